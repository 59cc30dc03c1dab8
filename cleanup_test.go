package main

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestCleanupsUnwind(t *testing.T) {
	var c cleanups
	var got []string
	errB := errors.New("b failed")
	for _, name := range []string{"a", "b", "c"} {
		c.add(func(context.Context) error {
			got = append(got, name)
			if name == "b" {
				return errB
			}
			return nil
		})
	}
	err := c.unwind(context.Background())
	if want := []string{"c", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("unwind ran %v, want %v", got, want)
	}
	if !errors.Is(err, errB) {
		t.Errorf("unwind = %v, want %v joined", err, errB)
	}
	got = nil
	if err := c.unwind(context.Background()); err != nil || len(got) != 0 {
		t.Errorf("second unwind ran %v and returned %v, want nothing", got, err)
	}
}
