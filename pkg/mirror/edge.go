package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// MalformedEventError: a function's event is not the JSON it takes, so
// nothing was read or written. The message names the function, what was
// wrong and the shape it expects (never the runtime's bare "EOF" or
// "invalid character").
type MalformedEventError struct {
	Function string // create, configure, sweep
	Reason   string
	Expected string
}

func (e *MalformedEventError) Error() string {
	return fmt.Sprintf("%s function: malformed event: %s; expected %s", e.Function, e.Reason, e.Expected)
}

// Bounds of an event body. Lambda refuses synchronous payloads above 6 MB
// itself (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html);
// the check here covers every other way in (the local router, tests). No
// event of ours nests deeper than a handful of levels; the bound stops a
// pathological body before the decoder walks it.
const (
	MaxEventBytes = 6 << 20
	maxEventDepth = 64
)

// Expected event shapes, for MalformedEventError.
const (
	CreateEventShape    = `a JSON object: the blog payload {"sourceBucketARN": "arn:aws:s3:::SRC", "sourceRegion": ..., "destRegion": ..., "sourceAccountNumber": ..., "destAccountNumber": ...}, bare or as {"payload": {...}}`
	ConfigureEventShape = `a JSON object: the create step's result, or the blog payload with destBucketARN, bare or as {"payload": {...}}`
)

// DecodeEvent decodes an event body into v, or returns a
// MalformedEventError saying what is wrong with it. With strict, a field v
// does not have is wrong too (for events only a state machine's Parameters
// shape, where any other field means the event was meant for another
// function).
func DecodeEvent(function, expected string, body []byte, v any, strict bool) error {
	malformed := func(format string, args ...any) error {
		return &MalformedEventError{Function: function, Reason: fmt.Sprintf(format, args...), Expected: expected}
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(body) > MaxEventBytes:
		return malformed("the body is %d bytes, more than %d", len(body), MaxEventBytes)
	case len(trimmed) == 0:
		return malformed("the body is empty")
	case !json.Valid(trimmed):
		return malformed("the body is not JSON")
	case trimmed[0] != '{':
		return malformed("the body is %s, not a JSON object", jsonKind(trimmed[0]))
	case jsonDepth(trimmed) > maxEventDepth:
		return malformed("the body nests deeper than %d levels", maxEventDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return malformed("field %s is a JSON %s, not a %s", typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return malformed("%v", err)
	}
	return nil
}

func jsonKind(first byte) string {
	switch first {
	case 'n':
		return "null"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	}
	return "a JSON number"
}

// jsonDepth is the deepest nesting of objects and arrays in valid JSON.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// EventHandler is a Lambda handler (lambda.Handler) that decodes the event
// body itself, so a malformed body is refused with a MalformedEventError,
// logged once, instead of the runtime's decoding error.
type EventHandler[E, R any] struct {
	Function, Expected string
	// Strict refuses fields E does not have (DecodeEvent).
	Strict bool
	Log    *slog.Logger
	Handle func(context.Context, E) (R, error)
}

// Invoke implements lambda.Handler.
func (h EventHandler[E, R]) Invoke(ctx context.Context, body []byte) ([]byte, error) {
	var ev E
	if err := DecodeEvent(h.Function, h.Expected, body, &ev, h.Strict); err != nil {
		log := h.Log
		if log == nil {
			log = slog.Default()
		}
		log.ErrorContext(ctx, "event refused", "function", h.Function, "error", err)
		return nil, err
	}
	out, err := h.Handle(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// CreateLambda is the create function's Lambda handler.
func (m *Mirrorer) CreateLambda() EventHandler[Event, State] {
	return EventHandler[Event, State]{Function: "create", Expected: CreateEventShape, Log: m.log(), Handle: m.CreateHandler}
}

// ConfigureLambda is the configure function's Lambda handler.
func (m *Mirrorer) ConfigureLambda() EventHandler[ConfigureEvent, State] {
	return EventHandler[ConfigureEvent, State]{Function: "configure", Expected: ConfigureEventShape, Log: m.log(), Handle: m.ConfigureHandler}
}
