package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string // substring of the error; "" means success
	}{
		{"25s", Duration(25 * time.Second), ""},
		{"2m", Duration(2 * time.Minute), ""},
		{"1h30m", Duration(90 * time.Minute), ""},
		{"250ms", Duration(250 * time.Millisecond), ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"5", 0, `"5" is not a duration, write "5s"`},
		{"2.5", 0, `write "2.5s"`},
		{"+5", 0, `write "5s"`},
		{"-5", 0, "is negative"},
		{"-5s", 0, "is negative"},
		{"", 0, "empty"},
		{"soon", 0, `"soon" is not a duration (examples:`},
		{"5 s", 0, "is not a duration"},
		{"NaN", 0, "is not a duration (examples"},
		{"1e3", 0, "is not a duration (examples"},
		{strings.Repeat("1", 65) + "s", 0, "too long"},
		{"99999999999h", 0, "is not a duration"},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseDuration(%q) error %v, want %v", tc.in, err, tc.want)
		case tc.wantErr == "" && got != tc.want:
			t.Errorf("ParseDuration(%q) = %v, want %v", tc.in, got, tc.want)
		case tc.wantErr != "" && err == nil:
			t.Errorf("ParseDuration(%q) = %v, want error containing %q", tc.in, got, tc.wantErr)
		case tc.wantErr != "" && (!strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrDuration)):
			t.Errorf("ParseDuration(%q) error %q, want one containing %q that wraps ErrDuration", tc.in, err, tc.wantErr)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil {
		t.Fatal(err)
	}
	if d.Std() != 90*time.Second {
		t.Errorf("UnmarshalText(1m30s) = %v, want 1m30s", d)
	}
	text, err := d.MarshalText()
	if err != nil || string(text) != "1m30s" {
		t.Errorf("MarshalText() = %q, %v; want 1m30s", text, err)
	}
	if got := Duration(0).String(); got != "0" {
		t.Errorf("Duration(0).String() = %q, want \"0\"", got)
	}
	if err := d.UnmarshalText([]byte("7")); err == nil || d.Std() != 90*time.Second {
		t.Errorf("UnmarshalText(7) = %v and changed the value to %v; want an error and no change", err, d)
	}
}
