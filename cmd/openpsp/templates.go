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
// notify.ValidateOverride before anything is opened. args follow
// "template".
func shopTemplate(args []string) (func(context.Context, *app.App) error, error) {
	fs := flag.NewFlagSet("shops template", flag.ContinueOnError)
	subject := fs.String("subject", "", "subject template (emails)")
	htmlFile := fs.String("html", "", "file of the HTML content block (emails; \"-\" reads stdin)")
	textFile := fs.String("text", "", "file of the text part, or of the SMS (\"-\" reads stdin)")
	del := fs.Bool("delete", false, "remove the shop's wording: back to the built-in one")
	if len(args) < 3 {
		return nil, usageErr("template", "give SHOP_ID TEMPLATE LANG")
	}
	if err := parseShopsFlags(fs, args[3:]); err != nil {
		return nil, err
	}
	shopID, id, lang := args[0], args[1], args[2]
	if err := checkShopID(shopID); err != nil {
		return nil, err
	}
	if notify.SampleContent(id).Template == "" {
		return nil, fmt.Errorf("unknown template %q: one of %v", id, templateIDs)
	}
	if !slices.Contains(notify.Languages, lang) {
		return nil, fmt.Errorf("unknown language %q: one of %v", lang, notify.Languages)
	}
	shopExists := func(ctx context.Context, a *app.App) error {
		if _, err := a.Shops.Get(ctx, shopID); err != nil {
			return fmt.Errorf("shop %s: %w", shopID, err)
		}
		return nil
	}
	if *del {
		return func(ctx context.Context, a *app.App) error {
			if err := shopExists(ctx, a); err != nil {
				return err
			}
			if err := a.DB.DeleteNotifyTemplate(ctx, shopID, id, lang); err != nil {
				return err
			}
			fmt.Printf("shop %s: %s (%s) uses the built-in wording again\n", shopID, id, lang)
			return nil
		}, nil
	}
	if *subject == "" && *htmlFile == "" && *textFile == "" {
		return func(ctx context.Context, a *app.App) error {
			if err := shopExists(ctx, a); err != nil {
				return err
			}
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
		}, nil
	}
	t := store.NotifyTemplate{ShopID: shopID, Template: id, Lang: lang, Subject: *subject}
	var err error
	if t.HTML, err = readPart(*htmlFile); err != nil {
		return nil, err
	}
	if t.Text, err = readPart(*textFile); err != nil {
		return nil, err
	}
	if err := notify.ValidateOverride(id, t.Subject, t.HTML, t.Text); err != nil {
		return nil, fmt.Errorf("template not saved: %w", err)
	}
	return func(ctx context.Context, a *app.App) error {
		if err := shopExists(ctx, a); err != nil {
			return err
		}
		t.UpdatedAt = a.Clock.Now()
		if err := a.DB.PutNotifyTemplate(ctx, t); err != nil {
			return err
		}
		fmt.Printf("shop %s: %s (%s) saved; parts left empty use the built-in wording\n", shopID, id, lang)
		return nil
	}, nil
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
