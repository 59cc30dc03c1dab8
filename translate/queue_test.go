package translate

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestBoundedQueue(t *testing.T) {
	type push struct {
		size int
		want error
	}
	tests := []struct {
		name      string
		maxCount  int
		maxBytes  int
		pushes    []push
		wantLen   int
		wantBytes int
	}{
		{"under both bounds", 3, 100, []push{{10, nil}, {20, nil}, {30, nil}}, 3, 60},
		{"count bound", 2, 100, []push{{1, nil}, {1, nil}, {1, errQueueCount}}, 2, 2},
		{"bytes bound", 5, 100, []push{{60, nil}, {40, nil}, {1, errQueueBytes}}, 2, 100},
		{"one item of any size fits empty", 5, 100, []push{{500, nil}, {1, errQueueBytes}}, 1, 500},
		{"count checked before bytes", 1, 10, []push{{50, nil}, {50, errQueueCount}}, 1, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newBoundedQueue[int](tc.maxCount, tc.maxBytes)
			for i, p := range tc.pushes {
				if err := q.push(i, p.size); !errors.Is(err, p.want) || (err == nil) != (p.want == nil) {
					t.Fatalf("push #%d (%d bytes) = %v, want %v", i, p.size, err, p.want)
				}
			}
			if q.len() != tc.wantLen || q.size() != tc.wantBytes {
				t.Fatalf("len, size = %d, %d; want %d, %d", q.len(), q.size(), tc.wantLen, tc.wantBytes)
			}
			for i := range tc.wantLen {
				if v, ok := q.pop(); !ok || v != i {
					t.Fatalf("pop = %d, %v; want %d, true", v, ok, i)
				}
			}
			if v, ok := q.pop(); ok {
				t.Fatalf("pop of an empty queue = %d, true", v)
			}
			if q.len() != 0 || q.size() != 0 || q.items != nil {
				t.Fatalf("emptied queue holds %d items, %d bytes, array %v", q.len(), q.size(), q.items != nil)
			}
		})
	}
}

// TestBoundedQueueFrees checks that popping makes room under both bounds,
// and that items keep their order while the array is reused.
func TestBoundedQueueFrees(t *testing.T) {
	q := newBoundedQueue[string](2, 10)
	for _, s := range []string{"a", "b"} {
		if err := q.push(s, 5); err != nil {
			t.Fatalf("push(%q) = %v", s, err)
		}
	}
	if err := q.push("c", 5); !errors.Is(err, errQueueCount) {
		t.Fatalf("push past the count = %v, want errQueueCount", err)
	}
	if v, _ := q.pop(); v != "a" {
		t.Fatalf("pop = %q, want a", v)
	}
	if err := q.push("c", 5); err != nil {
		t.Fatalf("push after a pop = %v", err)
	}
	if q.len() != 2 || q.size() != 10 {
		t.Fatalf("len, size = %d, %d; want 2, 10", q.len(), q.size())
	}
	q = newBoundedQueue[string](100, 100)
	var want, got []string
	for i := range 50 {
		s := string(rune('a' + i%26))
		want = append(want, s)
		if err := q.push(s, 1); err != nil {
			t.Fatalf("push #%d = %v", i, err)
		}
		if i%3 != 0 { // a backlog that comes and goes
			v, _ := q.pop()
			got = append(got, v)
		}
	}
	for v, ok := q.pop(); ok; v, ok = q.pop() {
		got = append(got, v)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
}

// BenchmarkQueue is an event queued behind the one in flight and taken
// when it is done, as on a socket that pipelines its events: no
// allocation per event.
func BenchmarkQueue(b *testing.B) {
	q := newBoundedQueue[job](DefaultMaxQueue, DefaultMaxQueueBytes)
	j := job{kind: TypeEvent, event: "e", args: []json.RawMessage{json.RawMessage(`"hello"`)}}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.push(j, j.size()); err != nil {
			b.Fatal(err)
		}
		if _, ok := q.pop(); !ok {
			b.Fatal("empty")
		}
	}
}
