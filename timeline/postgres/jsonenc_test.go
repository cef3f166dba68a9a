package postgres

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The hand encoder must mean exactly what encoding/json means.
func TestAppendJSONValueMatchesEncodingJSON(t *testing.T) {
	type custom struct {
		A int `json:"a"`
	}
	for _, v := range []any{
		nil, "plain", "quote \" back \\ nl \n tab \t ctl \x01 <html>&", "ünïcødé 🎉 \u2028 \u2029", "bad \xff utf8",
		true, 0, -12, int64(1) << 40, 3.25, 1e21, 1e-7, -0.5, 12345678901.0, 1e15,
		[]string{"a", "b"}, []any{"x", 1.0, false, nil, map[string]any{"k": "v"}},
		map[string]any{"z": 1, "a": []string{}, "m": map[string]any{"y": nil, "b": "c"}},
		map[string]string{"b": "2", "a": "1"}, custom{A: 3}, []int{1, 2},
	} {
		got, err := appendJSONValue(nil, v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		want, _ := json.Marshal(v)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%#v encoded to invalid JSON %s: %v", v, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("%#v: %s vs encoding/json %s (-want +got):\n%s", v, got, want, diff)
		}
	}
	if _, err := appendJSONValue(nil, map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN encoded without an error")
	}
	a := &timeline.Actor{ID: "U1", Name: "Zoë", Email: "z@x"}
	want, _ := json.Marshal(a)
	if got := appendActor(nil, a); string(got) != string(want) {
		t.Errorf("actor %s, want %s", got, want)
	}
	a.Email = ""
	want, _ = json.Marshal(a)
	if got := appendActor(nil, a); string(got) != string(want) {
		t.Errorf("actor %s, want %s", got, want)
	}
	for _, a := range []*timeline.Actor{{ID: "U2", Name: "n", TimeZone: "America/New_York"}, {ID: "B1", Name: "bot", Bot: true},
		{ID: "U3", Name: "n", Email: "e@x", TimeZone: "Asia/Kolkata", Bot: true}} {
		want, _ := json.Marshal(a)
		if got := appendActor(nil, a); string(got) != string(want) {
			t.Errorf("actor %s, want %s", got, want)
		}
	}
}

// The same details in another map iteration order hash the same.
func TestContentHashStable(t *testing.T) {
	e := timeline.Event{ID: "slack:message:C:1", IncidentID: "P", Source: "slack", Kind: timeline.KindChatMessage,
		Details: map[string]any{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}}
	var first []byte
	for i := 0; i < 50; i++ {
		r := encoded{e: &e}
		if err := r.encode(); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = r.hash
		} else if string(first) != string(r.hash) {
			t.Fatal("content hash depends on map order")
		}
	}
}
