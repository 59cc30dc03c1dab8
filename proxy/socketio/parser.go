package socketio

import (
	"fmt"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// Parser is a Socket.IO wire format other than the default one, as the
// reference server's parser option: how a Packet becomes Engine.IO
// messages and back. Config.Parser nil is the default format
// (socket.io-parser: a JSON text message, then one binary message per
// attachment), which Encode and Decoder implement.
//
// Whatever the wire format, a Packet stays the same inside the server:
// JSON Data with binary placeholders plus Attachments. So handlers,
// adapters, recovery and everything handed on to backends do not depend
// on the parser; only the bytes on the client's connection do.
//
// A Parser decodes one message into one packet and keeps no state per
// connection (socket.io-msgpack-parser does so). The default format spreads
// a binary packet over several messages; its Decoder lives inside each
// connection, which costs no allocation, so it is not a Parser.
type Parser interface {
	// Encode returns the Engine.IO messages carrying p. A broadcast calls
	// it once and hands the same messages to every recipient, so it must
	// neither retain nor modify p. The slice returned is the caller's: a
	// broadcast with permessage-deflate on marks its elements
	// (engineio.Share). An error means p cannot be written in this format
	// (it is not sent).
	Encode(p *Packet) ([]engineio.Packet, error)
	// Decode decodes one message of a connection. A nil packet with a nil
	// error is a message the reference accepts but that has nothing to
	// act on (it is dropped); an error, wrapping ErrParse, closes the
	// connection as the reference does. data may be retained.
	Decode(data []byte, binary bool) (*Packet, error)
}

// Parser names, as the configuration spells them.
const (
	ParserJSON    = "json"
	ParserMsgpack = "msgpack"
)

// ParserByName returns the Parser for a configured name: nil (the
// default format) for "" and "json", MsgpackParser for "msgpack".
func ParserByName(name string) (Parser, error) {
	switch name {
	case "", ParserJSON:
		return nil, nil
	case ParserMsgpack:
		return MsgpackParser(), nil
	}
	return nil, fmt.Errorf("socketio: unknown parser %q (want %q or %q)", name, ParserJSON, ParserMsgpack)
}

// encode returns the messages carrying p in the server's wire format.
func (s *Server) encode(p *Packet) ([]engineio.Packet, error) {
	if pr := s.cfg.Parser; pr != nil {
		return pr.Encode(p)
	}
	return Encode(p), nil
}

// Encode returns the messages carrying p in the server's wire format
// (Config.Parser): what an Adapter writes to each recipient of a
// broadcast with Socket.WriteEncoded, encoded once. When connections
// compress with permessage-deflate (engineio.Config.PerMessageDeflate),
// the messages are also compressed once, by the first WebSocket that
// writes them (engineio.Share).
func (n *Namespace) Encode(p *Packet) ([]engineio.Packet, error) {
	pkts, err := n.srv.encode(p)
	if err == nil && n.srv.share.Load() {
		engineio.Share(pkts)
	}
	return pkts, err
}

// decode feeds one message to the connection's decoder.
func (c *client) decode(data []byte, binary bool) (*Packet, error) {
	if pr := c.srv.cfg.Parser; pr != nil {
		return pr.Decode(data, binary)
	}
	return c.dec.Add(data, binary)
}
