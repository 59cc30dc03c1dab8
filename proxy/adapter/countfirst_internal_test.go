package adapter

import (
	"slices"
	"testing"
)

// TestCountFirst: acks that come before the broadcast's count run after
// it, in their order; acks after it run at once.
func TestCountFirst(t *testing.T) {
	var got []string
	g := &countFirst{}
	g.ack(func() { got = append(got, "ack a") })
	g.ack(func() { got = append(got, "ack b") })
	if len(got) != 0 {
		t.Fatalf("acks ran before the count: %v", got)
	}
	g.count(func() { got = append(got, "count") })
	g.ack(func() { got = append(got, "ack c") })
	if want := []string{"count", "ack a", "ack b", "ack c"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}
