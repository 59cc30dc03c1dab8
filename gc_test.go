package main

import "testing"

func TestGCPercent(t *testing.T) {
	tests := []struct {
		live uint64
		want int
	}{
		{0, 1000},
		{1 << 20, 1000},        // a small heap: the cap
		{gcFloor / 10, 1000},   // goal live+floor is 11× live
		{gcFloor / 4, 400},     // goal live+floor = 5× live
		{gcFloor / 2, 200},     // 3× live
		{gcFloor*2/3 + 1, 140}, // rounded down to tens
		{gcFloor, 100},         // the default from here on
		{4 * gcFloor, 100},
	}
	for _, tt := range tests {
		if got := gcPercent(tt.live); got != tt.want {
			t.Errorf("gcPercent(%d) = %d, want %d", tt.live, got, tt.want)
		}
	}
}
