package store

import "context"

// DataKeyCounts returns how many data keys each master key wraps.
func (db *DB) DataKeyCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT master_key_id, COUNT(*) FROM data_keys GROUP BY master_key_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
