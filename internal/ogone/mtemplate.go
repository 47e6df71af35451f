package ogone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// PaymentZone is where the FlexCheckout form goes in a merchant template,
// the marker Ogone's dynamic templates use.
const PaymentZone = "$$$PAYMENT ZONE$$$"

// MaxTemplateSize bounds an uploaded template.
const MaxTemplateSize = 256 << 10

// Template is a merchant's FlexCheckout template (LAYOUT.TEMPLATENAME), kept
// sanitised.
type Template struct {
	ShopID    string
	Name      string
	HTML      string // sanitised, with exactly one PaymentZone
	UpdatedAt time.Time
}

// Errors of template management.
var (
	ErrTemplateName     = errors.New("ogone: a template name is 1 to 100 letters, digits, '.', '-' or '_', ending in .html or .htm")
	ErrTemplateTooLarge = fmt.Errorf("ogone: a template is at most %d bytes", MaxTemplateSize)
	ErrTemplateZone     = errors.New("ogone: a template must contain " + PaymentZone + " exactly once, in text")
	ErrTemplateEncoding = errors.New("ogone: a template must be UTF-8")
	ErrTemplateNotFound = errors.New("ogone: template not found")
)

var templateNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$`)

// ValidTemplateName reports whether name can name a template: a file name
// such as "new_user.html" (document 004: the name and the file extension).
func ValidTemplateName(name string) bool {
	l := strings.ToLower(name)
	return templateNameRE.MatchString(name) && !strings.Contains(name, "..") &&
		(strings.HasSuffix(l, ".html") || strings.HasSuffix(l, ".htm"))
}

// Elements a template keeps. Everything that runs code, embeds another
// document, submits data or changes how URLs resolve is removed with its
// content: the template is served from our origin next to card fields.
var keptElements = map[atom.Atom]bool{
	atom.Html: true, atom.Head: true, atom.Body: true, atom.Title: true, atom.Meta: true, atom.Link: true,
	atom.Style: true, atom.Div: true, atom.Span: true, atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Header: true, atom.Footer: true, atom.Main: true,
	atom.Section: true, atom.Article: true, atom.Nav: true, atom.Aside: true, atom.Ul: true, atom.Ol: true,
	atom.Li: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Table: true, atom.Thead: true,
	atom.Tbody: true, atom.Tfoot: true, atom.Tr: true, atom.Th: true, atom.Td: true, atom.Caption: true,
	atom.Colgroup: true, atom.Col: true, atom.Img: true, atom.A: true, atom.Strong: true, atom.Em: true,
	atom.B: true, atom.I: true, atom.U: true, atom.S: true, atom.Small: true, atom.Br: true, atom.Hr: true,
	atom.Blockquote: true, atom.Pre: true, atom.Code: true, atom.Figure: true, atom.Figcaption: true,
	atom.Address: true, atom.Center: true, atom.Font: true, atom.Label: true, atom.Abbr: true, atom.Sup: true,
	atom.Sub: true, atom.Picture: true, atom.Time: true, atom.Mark: true, atom.Q: true, atom.Cite: true,
}

// Attributes a kept element may carry; URL-valued ones are checked.
var keptAttrs = map[string]bool{
	"class": true, "id": true, "style": true, "title": true, "lang": true, "dir": true, "align": true,
	"valign": true, "width": true, "height": true, "colspan": true, "rowspan": true, "alt": true, "src": true,
	"href": true, "rel": true, "target": true, "media": true, "type": true, "charset": true, "name": true,
	"content": true, "border": true, "cellpadding": true, "cellspacing": true, "bgcolor": true, "color": true,
	"face": true, "size": true, "datetime": true, "role": true, "aria-label": true, "aria-hidden": true,
	"srcset": true, "sizes": true, "loading": true, "span": true, "scope": true,
}

// SanitizeTemplate checks and cleans a merchant template: UTF-8, at most
// MaxTemplateSize bytes, PaymentZone exactly once in text, and only the
// elements and attributes above, with http(s) or data:image URLs and CSS
// without script. It returns the cleaned HTML.
func SanitizeTemplate(src []byte) (string, error) {
	if len(src) > MaxTemplateSize {
		return "", ErrTemplateTooLarge
	}
	if !utf8.Valid(src) {
		return "", ErrTemplateEncoding
	}
	doc, err := html.Parse(bytes.NewReader(src))
	if err != nil {
		return "", fmt.Errorf("ogone: template is not HTML: %w", err)
	}
	clean(doc)
	var b bytes.Buffer
	if err := html.Render(&b, doc); err != nil {
		return "", err
	}
	out := b.String()
	if strings.Count(out, PaymentZone) != 1 || countZoneText(doc) != 1 {
		return "", ErrTemplateZone
	}
	return out, nil
}

// countZoneText counts PaymentZone in text nodes outside <title> and <style>.
func countZoneText(n *html.Node) int {
	c := 0
	if n.Type == html.TextNode && (n.Parent == nil || (n.Parent.DataAtom != atom.Title && n.Parent.DataAtom != atom.Style)) {
		c += strings.Count(n.Data, PaymentZone)
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		c += countZoneText(ch)
	}
	return c
}

func clean(n *html.Node) {
	for ch := n.FirstChild; ch != nil; {
		next := ch.NextSibling
		switch ch.Type {
		case html.CommentNode:
			n.RemoveChild(ch)
		case html.ElementNode:
			if !keptElements[ch.DataAtom] || ch.Namespace != "" || !keepElement(ch) {
				n.RemoveChild(ch)
				break
			}
			ch.Attr = cleanAttrs(ch)
			if ch.DataAtom == atom.Style {
				if !safeCSS(textOf(ch)) {
					n.RemoveChild(ch)
					break
				}
			}
			clean(ch)
		case html.DoctypeNode, html.TextNode:
		default:
			n.RemoveChild(ch)
		}
		ch = next
	}
}

// keepElement applies the per-element rules: <meta> only for the charset
// and the viewport, <link> only for https style sheets.
func keepElement(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Meta:
		for _, a := range n.Attr {
			switch strings.ToLower(a.Key) {
			case "http-equiv", "property", "itemprop":
				return false
			}
		}
		name := strings.ToLower(attr(n, "name"))
		return attr(n, "charset") != "" || name == "viewport" || name == "description"
	case atom.Link:
		return strings.EqualFold(strings.TrimSpace(attr(n, "rel")), "stylesheet") && safeURL(attr(n, "href"), false)
	}
	return true
}

func cleanAttrs(n *html.Node) []html.Attribute {
	var out []html.Attribute
	for _, a := range n.Attr {
		k := strings.ToLower(a.Key)
		if a.Namespace != "" || !keptAttrs[k] {
			continue
		}
		switch k {
		case "href":
			if !safeURL(a.Val, false) && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "mailto:") {
				continue
			}
		case "src":
			if !safeURL(a.Val, n.DataAtom == atom.Img) {
				continue
			}
		case "srcset":
			ok := true
			for _, part := range strings.Split(a.Val, ",") {
				f := strings.Fields(part)
				if len(f) == 0 || !safeURL(f[0], true) {
					ok = false
				}
			}
			if !ok {
				continue
			}
		case "style":
			if !safeCSS(a.Val) {
				continue
			}
		case "target":
			// A link may open a new window, never navigate the top page
			// away from inside an iframe in a way we cannot see.
			a.Val = "_blank"
		}
		out = append(out, html.Attribute{Key: k, Val: a.Val})
	}
	if n.DataAtom == atom.A && attr(n, "target") != "" {
		out = append(out, html.Attribute{Key: "rel", Val: "noopener noreferrer"})
	}
	return out
}

// safeURL accepts absolute https and http URLs (and data:image for images).
// Relative URLs would resolve against our origin, so they are refused too.
func safeURL(s string, image bool) bool {
	s = strings.TrimSpace(s)
	l := strings.ToLower(s)
	if image && strings.HasPrefix(l, "data:image/") && !strings.HasPrefix(l, "data:image/svg") {
		return true
	}
	if !(strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")) {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f || r == '"' || r == '\'' || r == '<' || r == '>' || r == '\\' {
			return false
		}
	}
	return true
}

// safeCSS refuses CSS that can run script in old engines or load other
// style sheets.
func safeCSS(s string) bool {
	l := strings.ToLower(s)
	for _, bad := range []string{"expression", "javascript:", "vbscript:", "behavior", "-moz-binding", "@import", "</", "\\"} {
		if strings.Contains(l, bad) {
			return false
		}
	}
	return true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if ch.Type == html.TextNode {
			b.WriteString(ch.Data)
		}
	}
	return b.String()
}

// TemplateStore keeps merchant templates.
type TemplateStore interface {
	PutTemplate(ctx context.Context, t Template) error
	// Template returns ErrTemplateNotFound for an unknown name.
	Template(ctx context.Context, shopID, name string) (Template, error)
	Templates(ctx context.Context, shopID string) ([]Template, error)
	// DeleteTemplate returns ErrTemplateNotFound for an unknown name.
	DeleteTemplate(ctx context.Context, shopID, name string) error
}
