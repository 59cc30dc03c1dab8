package socketio

// Decoder turns one connection's Engine.IO messages into Socket.IO packets,
// reassembling binary packets from the binary messages that follow their
// text part. A Decoder is used by one goroutine (the connection's reader).
type Decoder struct {
	// MaxAttachments caps the attachments a binary packet may announce.
	// Zero means DefaultMaxAttachments; a packet over the cap is refused
	// with ErrTooManyAttachments before any attachment is buffered.
	MaxAttachments int

	pending *Packet
	want    int
}

// Add feeds one message. It returns the packet once it is complete, nil
// while a binary packet still waits for attachments, or an error (wrapping
// ErrParse) after which the connection should be closed. data is retained
// (attachments are kept without copying).
func (d *Decoder) Add(data []byte, binary bool) (*Packet, error) {
	if binary {
		if d.pending == nil {
			return nil, ErrUnexpectedBinary
		}
		d.pending.Attachments = append(d.pending.Attachments, data)
		if len(d.pending.Attachments) < d.want {
			return nil, nil
		}
		p := d.pending
		d.pending, d.want = nil, 0
		if !checkPlaceholders(p.Data, len(p.Attachments)) {
			return nil, ErrIllegalAttachments
		}
		return p, nil
	}
	if d.pending != nil {
		return nil, ErrUnexpectedText
	}
	p, n, err := DecodeText(data, d.MaxAttachments)
	if err != nil {
		return nil, err
	}
	switch p.Type {
	case PacketBinaryEvent, PacketBinaryAck:
		if p.Type == PacketBinaryEvent {
			p.Type = PacketEvent
		} else {
			p.Type = PacketAck
		}
		p.Attachments = make([][]byte, 0, n)
		d.pending, d.want = p, n
		return nil, nil
	}
	return p, nil
}

// Reset drops a partly reassembled packet.
func (d *Decoder) Reset() { d.pending, d.want = nil, 0 }
