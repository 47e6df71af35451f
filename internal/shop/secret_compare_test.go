package shop

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// secretName matches the names of values that are secrets or signatures:
// comparing one with ==, bytes.Equal or strings.EqualFold takes a time
// that tells how many of its first bytes were right.
var secretName = regexp.MustCompile(`(?i)(hash|shasign|signature|sig\b|sign\(|sha\d|secret|passw|pswd|passphrase|hmac|digest|csrf|apikey|privatekey)`)

// notSecret are comparisons the scan finds whose operands are not secrets,
// by file and expression.
var notSecret = map[string]bool{
	// The idempotency record's hash of the request body, not a secret: a
	// replay with another body is refused.
	"internal/api/v4/idempotency.go: f.hash != hash":                              true,
	"internal/api/v4/idempotency.go: rec.RequestHash != hash":                     true,
	"internal/store/idempotency.go: cur.RequestHash != rec.RequestHash":           true,
	"internal/demo/demo.go: r.PostForm.Get(\"kr-hash-key\") == \"sha256_hmac\"":   true,
	"internal/demo/demo.go: r.Form.Get(\"kr-hash-algorithm\") == \"sha256_hmac\"": true,
}

// Every comparison of a secret or a signature is constant-time: the scan
// reads every Go file of the program (not tests) and fails on ==, !=,
// bytes.Equal, strings.EqualFold or strings.Compare with an operand named
// like a secret (password, hash, signature, digest …), unless listed in
// notSecret as something else. shop.EqualSecret, hmac.Equal and
// subtle.ConstantTimeCompare are the ways to compare one.
func TestSecretsAreComparedInConstantTime(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	seen := map[string]bool{}
	var found []string
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			text := func(n ast.Node) string {
				var b strings.Builder
				_ = printer.Fprint(&b, fset, n)
				return b.String()
			}
			// origin is the right-hand side an identifier was last
			// declared with in its scope (want := sign(…)), if any.
			origin := func(o ast.Expr) string {
				id, ok := o.(*ast.Ident)
				if !ok || id.Obj == nil {
					return ""
				}
				switch d := id.Obj.Decl.(type) {
				case *ast.AssignStmt:
					return text(d)
				case *ast.ValueSpec:
					return text(d)
				}
				return ""
			}
			check := func(n ast.Node, operands ...ast.Expr) {
				for _, o := range operands {
					if lit, ok := o.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						continue
					}
					if secretName.MatchString(text(o)) || secretName.MatchString(origin(o)) {
						key := rel + ": " + text(n)
						seen[key] = true
						if !notSecret[key] {
							found = append(found, fset.Position(n.Pos()).String()+": "+text(n))
						}
						return
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch e := n.(type) {
				case *ast.BinaryExpr:
					if e.Op == token.EQL || e.Op == token.NEQ {
						if notValue(e.X) || notValue(e.Y) {
							return true
						}
						check(e, e.X, e.Y)
					}
				case *ast.CallExpr:
					switch text(e.Fun) {
					case "bytes.Equal", "strings.EqualFold", "strings.Compare", "bytes.Compare", "reflect.DeepEqual":
						check(e, e.Args...)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range found {
		t.Errorf("a secret compared in variable time: %s", f)
	}
	for k := range notSecret {
		if !seen[k] {
			t.Errorf("notSecret lists %q, which the scan no longer finds: remove it", k)
		}
	}
}

// notValue reports operands whose comparison says nothing of a secret's
// bytes: nil, the empty string, a number, a length.
func notValue(e ast.Expr) bool {
	switch v := e.(type) {
	case *ast.Ident:
		return v.Name == "nil"
	case *ast.BasicLit:
		return v.Kind == token.INT || v.Value == `""`
	case *ast.CallExpr:
		id, ok := v.Fun.(*ast.Ident)
		return ok && id.Name == "len"
	}
	return false
}
