package jsonstr_test

import (
	"fmt"

	"github.com/iobridge/iobridge/internal/jsonstr"
)

func ExampleAppend() {
	b := []byte(`{"event":`)
	b = jsonstr.Append(b, "say \"hi\"\n<3 \u2028")
	b = append(b, '}')
	fmt.Println(string(b))
	// Output: {"event":"say \"hi\"\n<3 \u2028"}
}
