package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/store"
)

// shopTemplate shows, sets or deletes a shop's wording of one email or SMS
// in one language (docs/notifications.md), checked by
// notify.ValidateOverride before it is saved. args follow "template".
func shopTemplate(ctx context.Context, a *app.App, args []string) error {
	fs := flag.NewFlagSet("shops template", flag.ContinueOnError)
	subject := fs.String("subject", "", "subject template (emails)")
	htmlFile := fs.String("html", "", "file of the HTML content block (emails; \"-\" reads stdin)")
	textFile := fs.String("text", "", "file of the text part, or of the SMS (\"-\" reads stdin)")
	del := fs.Bool("delete", false, "remove the shop's wording: back to the built-in one")
	if len(args) < 3 {
		return usageErr()
	}
	if err := parseShopsFlags(fs, args[3:]); err != nil {
		return err
	}
	shopID, id, lang := args[0], args[1], args[2]
	if notify.SampleContent(id).Template == "" {
		return fmt.Errorf("unknown template %q: one of %v", id, templateIDs)
	}
	if !slices.Contains(notify.Languages, lang) {
		return fmt.Errorf("unknown language %q: one of %v", lang, notify.Languages)
	}
	if _, err := a.Shops.Get(ctx, shopID); err != nil {
		return fmt.Errorf("shop %s: %w", shopID, err)
	}
	if *del {
		if err := a.DB.DeleteNotifyTemplate(ctx, shopID, id, lang); err != nil {
			return err
		}
		fmt.Printf("shop %s: %s (%s) uses the built-in wording again\n", shopID, id, lang)
		return nil
	}
	if *subject == "" && *htmlFile == "" && *textFile == "" {
		t, err := a.DB.NotifyTemplate(ctx, shopID, id, lang)
		if errors.Is(err, store.ErrNotFound) {
			fmt.Printf("shop %s: %s (%s) uses the built-in wording\n", shopID, id, lang)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Printf("updated: %s\nsubject: %s\n--- html\n%s\n--- text\n%s\n", t.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"), t.Subject, t.HTML, t.Text)
		return nil
	}
	t := store.NotifyTemplate{ShopID: shopID, Template: id, Lang: lang, Subject: *subject, UpdatedAt: a.Clock.Now()}
	var err error
	if t.HTML, err = readPart(*htmlFile); err != nil {
		return err
	}
	if t.Text, err = readPart(*textFile); err != nil {
		return err
	}
	if err := notify.ValidateOverride(id, t.Subject, t.HTML, t.Text); err != nil {
		return fmt.Errorf("template not saved: %w", err)
	}
	if err := a.DB.PutNotifyTemplate(ctx, t); err != nil {
		return err
	}
	fmt.Printf("shop %s: %s (%s) saved; parts left empty use the built-in wording\n", shopID, id, lang)
	return nil
}

var templateIDs = []string{notify.TplPaymentAcceptedBuyer, notify.TplPaymentRefusedBuyer, notify.TplPaymentMerchant,
	notify.TplTokenBuyer, notify.TplTokenMerchant, notify.TplTokenSMSBuyer, notify.TplTokenSMSMerchant, notify.TplInstalmentMerchant}

func readPart(name string) (string, error) {
	switch name {
	case "":
		return "", nil
	case "-":
		b, err := io.ReadAll(os.Stdin)
		return string(b), err
	}
	b, err := os.ReadFile(name)
	return string(b), err
}
