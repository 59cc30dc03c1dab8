package adminui

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

func TestWithAdmin(t *testing.T) {
	meta := adminMeta{ClientID: "abcdefghijkl", Transport: "websocket"}
	const admin = `"_admin":{"clientId":"abcdefghijkl","transport":"websocket"}`
	for _, c := range []struct {
		name string
		data any
		want string
	}{
		{"unset", nil, `{` + admin + `}`},
		{"null", json.RawMessage(`null`), `{` + admin + `}`},
		{"empty raw", json.RawMessage(``), `{` + admin + `}`},
		{"invalid raw", json.RawMessage(`{"a":`), `{` + admin + `}`},
		{"empty object", json.RawMessage(` { } `), `{` + admin + `}`},
		{"object, order kept", json.RawMessage(`{"user":"bob","n":1,"a":[1, 2]}`), `{` + admin + `,"user":"bob","n":1,"a":[1, 2]}`},
		{"own _admin replaced", json.RawMessage(`{"x":1,"_admin":{"clientId":"forged"}}`), `{` + admin + `,"x":1}`},
		{"Go value", map[string]int{"n": 7}, `{` + admin + `,"n":7}`},
	} {
		got, ok := withAdmin(c.data, meta).(json.RawMessage)
		if !ok || string(got) != c.want {
			t.Errorf("%s: withAdmin = %s, want %s", c.name, got, c.want)
		}
	}
	// No member to carry it: as it is.
	for _, data := range []any{json.RawMessage(`[1,2]`), json.RawMessage(`"s"`), json.RawMessage(`3`), "s"} {
		if got := withAdmin(data, meta); !sameValue(got, data) {
			t.Errorf("withAdmin(%v) = %v, want it unchanged", data, got)
		}
	}
	// The package's serializeData reads it back.
	data, got := splitData(withAdmin(json.RawMessage(`{"user":"bob"}`), meta))
	if string(data) != `{"user":"bob"}` || got != meta {
		t.Fatalf("splitData = %s, %+v", data, got)
	}
}

func sameValue(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestRemoteData: with the admin UI on, a socket's description for other
// nodes carries _admin; its own data, and its description on this node,
// do not; once stopped, nothing is added.
func TestRemoteData(t *testing.T) {
	ts := newTestServer(t, Config{})
	app := siotest.Dial(t, ts.url, "/", nil)
	s := ts.srv.Of("/").Socket(app.SID)
	if s == nil {
		t.Fatalf("no socket %s", app.SID)
	}
	s.SetData(json.RawMessage(`{"user":"bob"}`))
	want := `{"_admin":{"clientId":"` + s.ConnID()[:12] + `","transport":"` + s.Transport() + `"},"user":"bob"}`
	if got, _ := json.Marshal(s.RemoteInfo().Data); string(got) != want {
		t.Fatalf("RemoteInfo data %s, want %s", got, want)
	}
	if got, _ := json.Marshal(s.Data()); string(got) != `{"user":"bob"}` {
		t.Fatalf("Data %s", got)
	}
	infos, err := ts.srv.Of("/").FetchSockets(t.Context())
	i := slices.IndexFunc(infos, func(info socketio.SocketInfo) bool { return info.ID == app.SID })
	if err != nil || i < 0 {
		t.Fatalf("FetchSockets = %+v, %v", infos, err)
	}
	if got, _ := json.Marshal(infos[i].Data); string(got) != `{"user":"bob"}` {
		t.Fatalf("FetchSockets data %s", got)
	}
	ts.stop()
	if got, _ := json.Marshal(s.RemoteInfo().Data); string(got) != `{"user":"bob"}` {
		t.Fatalf("RemoteInfo data after stop %s", got)
	}
}
