package jsonobj

import "testing"

func TestWithout(t *testing.T) {
	for _, c := range []struct {
		in, want string
		found    bool
	}{
		{`{"_admin":{"clientId":"x"},"user":"bob","n":1}`, `{"user":"bob","n":1}`, true},
		{` {"z":[1, 2],"_admin":1,"a":{"b" : "c"}} `, `{"z":[1, 2],"a":{"b" : "c"}}`, true},
		{`{"_admin":{}}`, `{}`, true},
		{`{"_admin":1,"x":2,"_admin":3}`, `{"x":2}`, true},
		{`{"a\u0022b":"<&>","_admin":null}`, `{"a\"b":"<&>"}`, true},
		{`{"user":"bob"}`, `{"user":"bob"}`, false},
		{`{"nested":{"_admin":1}}`, `{"nested":{"_admin":1}}`, false},
		{`["_admin"]`, `["_admin"]`, false},
		{`"_admin"`, `"_admin"`, false},
		{`null`, `null`, false},
		{``, ``, false},
		{`{"_admin":1`, `{"_admin":1`, false},
		{`{"_admin":1}{}`, `{"_admin":1}{}`, false},
	} {
		got, found := Without([]byte(c.in), "_admin")
		if string(got) != c.want || found != c.found {
			t.Errorf("Without(%s) = %s, %v; want %s, %v", c.in, got, found, c.want, c.found)
		}
	}
}

func TestIsEmpty(t *testing.T) {
	for in, want := range map[string]bool{`{}`: true, ` { } `: true, `{"a":1}`: false, `[]`: false, `null`: false, ``: false, `{`: false} {
		if got := IsEmpty([]byte(in)); got != want {
			t.Errorf("IsEmpty(%q) = %v", in, got)
		}
	}
}
