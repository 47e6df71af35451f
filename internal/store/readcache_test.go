package store

import (
	"errors"
	"testing"
)

func TestReadCacheKeepsAnswersAndForgetsOnInvalidate(t *testing.T) {
	var c readCache[string, int]
	loads := 0
	load := func(v int, err error) func() (int, error) {
		return func() (int, error) { loads++; return v, err }
	}
	if v, err := c.get("a", load(1, nil)); v != 1 || err != nil || loads != 1 {
		t.Fatalf("first get = %d, %v (loads %d)", v, err, loads)
	}
	if v, _ := c.get("a", load(2, nil)); v != 1 || loads != 1 {
		t.Fatalf("second get = %d (loads %d), want the kept 1 without a load", v, loads)
	}
	c.invalidate()
	if v, _ := c.get("a", load(2, nil)); v != 2 || loads != 2 {
		t.Fatalf("after invalidate = %d (loads %d), want a new load", v, loads)
	}
	// Not found is an answer; a failure is not.
	if _, err := c.get("missing", load(0, ErrNotFound)); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := c.get("missing", load(9, nil)); !errors.Is(err, ErrNotFound) || loads != 3 {
		t.Fatalf("not found was not kept: %v (loads %d)", err, loads)
	}
	boom := errors.New("connection refused")
	if _, err := c.get("b", load(0, boom)); err != boom {
		t.Fatal(err)
	}
	if v, err := c.get("b", load(5, nil)); v != 5 || err != nil {
		t.Fatalf("a failure was kept: %d, %v", v, err)
	}
	// A load that started before an invalidation is not kept: it may have
	// read the row before the write that invalidated.
	v, _ := c.get("c", func() (int, error) { c.invalidate(); return 7, nil })
	if v != 7 {
		t.Fatal(v)
	}
	if v, _ := c.get("c", load(8, nil)); v != 8 {
		t.Fatalf("a load that raced an invalidation was kept: %d", v)
	}
}
