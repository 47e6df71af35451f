package vault

// SetRewrapBatch lets tests rotate in small pages.
func SetRewrapBatch(v *Vault, n int) { v.rewrapBatch = n }
