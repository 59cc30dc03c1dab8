package adapter

import (
	"testing"
	"time"
)

func TestYeast(t *testing.T) {
	var y yeast
	now := time.UnixMilli(1700000000000)
	got := []string{y.next(now), y.next(now), y.next(now), y.next(now.Add(time.Millisecond))}
	// the values socket.io-adapter's yeast() gives for that millisecond
	want := []string{"OlFvMW0", "OlFvMW0.0", "OlFvMW0.1", "OlFvMW1"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("offset %d = %q, want %q", i, got[i], want[i])
		}
	}
}
