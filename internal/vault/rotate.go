package vault

import (
	"context"
	"fmt"
)

// RewrapBatch is how many data keys one rotation transaction rewraps.
const RewrapBatch = 500

// RotateMasterKey adds a new primary master key (persisted in the keyring
// file) and rewraps every data key under it. See RewrapAll.
func (v *Vault) RotateMasterKey(ctx context.Context, progress func(done, total int)) error {
	if _, err := v.keys.AddPrimary(); err != nil {
		return err
	}
	return v.RewrapAll(ctx, progress)
}

// RewrapAll rewraps every data key not under the primary master key, without
// adding a key: it finishes an interrupted rotation. Data keys are read in
// pages by id (keyset pagination) and each page is written in one
// transaction whose UPDATEs only apply where the row still has the master
// key it was read with, so it is safe while payments go on and while another
// copy rotates too. Card data itself is never decrypted or rewritten: only
// the wrapped data keys change.
func (v *Vault) RewrapAll(ctx context.Context, progress func(done, total int)) error {
	report := func(done, total int) {
		if progress != nil {
			progress(done, total)
		}
	}
	primary := v.keys.PrimaryID()
	total, err := v.store.CountDataKeysNotUnder(ctx, primary)
	if err != nil {
		return err
	}
	report(0, total)
	done := 0
	for {
		// The primary may have moved on (another rotation): follow it.
		primary = v.keys.PrimaryID()
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			page, err := v.store.DataKeysNotUnder(ctx, primary, after, v.rewrapBatch)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].ID
			rewraps := make([]Rewrap, 0, len(page))
			for _, dk := range page {
				to, err := v.keys.Rewrap(dk)
				if err != nil {
					return fmt.Errorf("vault: rewrap data key %s: %w", dk.ID, err)
				}
				if to.MasterKeyID != dk.MasterKeyID {
					rewraps = append(rewraps, Rewrap{From: dk.MasterKeyID, To: to})
				}
			}
			n, err := v.store.RewrapDataKeys(ctx, rewraps, v.clk.Now())
			if err != nil {
				return err
			}
			done += n
			if done > total {
				total = done
			}
			report(done, total)
		}
		// A tokenization that took its data key from the old primary just
		// before the rotation may commit behind the pages above (its id is
		// older than where the scan stands). The sweep runs in a write
		// transaction that sees every such insert, and rewraps them.
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := v.store.SweepDataKeys(ctx, primary, v.rewrapBatch, v.sweepRewrap, v.clk.Now())
		if err != nil {
			return err
		}
		done += n
		if done > total {
			total = done
		}
		if n > 0 {
			report(done, total)
		}
		if n < v.rewrapBatch {
			return nil
		}
	}
}

func (v *Vault) sweepRewrap(dk DataKey) (DataKey, error) {
	to, err := v.keys.Rewrap(dk)
	if err != nil {
		return DataKey{}, fmt.Errorf("vault: rewrap data key %s: %w", dk.ID, err)
	}
	return to, nil
}
