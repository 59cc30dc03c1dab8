package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Where JWT reads the token from (JWTConfig.From).
const (
	FromAuth   = "auth"   // the CONNECT payload's "token"
	FromQuery  = "query"  // the handshake URL's ?token=
	FromHeader = "header" // the handshake's Authorization: Bearer
)

// Defaults of JWTConfig.
const (
	// DefaultJWKSRefresh is JWTConfig.JWKSRefresh's zero value.
	DefaultJWKSRefresh = time.Hour
	// DefaultJWKSUnknownKID is JWTConfig.JWKSUnknownKID's zero value.
	DefaultJWKSUnknownKID = 5 * time.Minute
	// jwksTimeout bounds one JWKS fetch.
	jwksTimeout = 10 * time.Second
)

// JWTConfig configures the jwt plugin.
type JWTConfig struct {
	// Secret is the HS256 key. Exactly one of Secret and JWKSURL is set.
	Secret []byte
	// JWKSURL is the JWK Set of the RS256 and ES256 keys. The set is
	// fetched at start, again every JWKSRefresh, and when a token names a
	// key id the set lacks (a rotated key), at most once per
	// JWKSUnknownKID.
	JWKSURL string
	// JWKSRefresh is the regular refresh interval. Zero means
	// DefaultJWKSRefresh.
	JWKSRefresh time.Duration
	// JWKSUnknownKID is the least time between two fetches caused by an
	// unknown key id (so forged key ids cannot make the sidecar hammer the
	// JWKS server). Zero means DefaultJWKSUnknownKID; negative means no
	// bound (tests).
	JWKSUnknownKID time.Duration
	// HTTPClient fetches the JWKS. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Audience, if set, must be in the token's aud.
	Audience string
	// Issuer, if set, must equal the token's iss.
	Issuer string
	// Leeway is the clock skew allowed on exp and nbf. Zero means none.
	Leeway time.Duration
	// From is FromAuth (default), FromQuery or FromHeader.
	From string
	// Rooms are joined on connect; "{claim}" is replaced by that claim's
	// value ("user:{sub}"). A room whose claim is missing, or is not a
	// string or number, is not joined.
	Rooms []string
	// Claims are copied into socket.data under their own names; a claim
	// the token lacks is left out.
	Claims []string
	// Logger receives JWKS refresh failures. Nil means slog.Default().
	Logger *slog.Logger
}

// JWT verifies a JSON Web Token when a socket connects: HS256 with a
// shared secret, or RS256/ES256 with keys from a JWKS URL. exp is
// required; nbf, aud and iss are checked when configured or present. A
// socket without a valid token is refused with connect_error
// "unauthorized: <reason>" and data {"plugin":"jwt","status":401}.
//
// A socket whose session is recovered (connection state recovery) is not
// checked again: it proved itself when it first connected.
type JWT struct {
	cfg     JWTConfig
	keyfunc jwt.Keyfunc
	parser  *jwt.Parser
	cancel  context.CancelFunc
	rooms   []roomTemplate
}

var (
	_ ConnectHook = (*JWT)(nil)
	_ Shutdowner  = (*JWT)(nil)
)

// NewJWT returns the jwt plugin. With JWKSURL it fetches the key set
// before returning (a failure is logged, not returned: keys are fetched
// again on the first token) and keeps a goroutine that refreshes it until
// Shutdown.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if (len(cfg.Secret) == 0) == (cfg.JWKSURL == "") {
		return nil, errors.New("plugins: jwt: set exactly one of Secret and JWKSURL")
	}
	switch cfg.From {
	case "":
		cfg.From = FromAuth
	case FromAuth, FromQuery, FromHeader:
	default:
		return nil, fmt.Errorf("plugins: jwt: from %q: want %q, %q or %q", cfg.From, FromAuth, FromQuery, FromHeader)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &JWT{cfg: cfg}
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithLeeway(cfg.Leeway)}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if len(cfg.Secret) > 0 {
		secret := cfg.Secret
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
		p.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
	} else {
		refresh := cfg.JWKSRefresh
		if refresh <= 0 {
			refresh = DefaultJWKSRefresh
		}
		unknown := cfg.JWKSUnknownKID
		if unknown == 0 {
			unknown = DefaultJWKSUnknownKID
		}
		ctx, cancel := context.WithCancel(context.Background())
		log := cfg.Logger
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:            cfg.HTTPClient,
			HTTPTimeout:       jwksTimeout,
			RefreshInterval:   refresh,
			RefreshUnknownKID: unknownKIDLimiter(unknown),
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					if ctx.Err() == nil {
						log.Warn("plugins: jwt: fetching the JWKS failed", "url", u, "err", err)
					}
				}
			},
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("plugins: jwt: jwks %s: %w", cfg.JWKSURL, err)
		}
		p.cancel = cancel
		p.keyfunc = kf.Keyfunc
		opts = append(opts, jwt.WithValidMethods([]string{"RS256", "ES256"}))
	}
	p.parser = jwt.NewParser(opts...)
	for _, r := range cfg.Rooms {
		p.rooms = append(p.rooms, parseRoom(r))
	}
	return p, nil
}

// Name is "jwt".
func (p *JWT) Name() string { return "jwt" }

// OnConnect verifies the socket's token and returns the configured claims
// and rooms.
func (p *JWT) OnConnect(ctx context.Context, e ConnectEvent) (ConnectReply, error) {
	tok := p.token(e)
	if tok == "" {
		return ConnectReply{}, unauthorized("no token", nil)
	}
	claims := jwt.MapClaims{}
	_, err := p.parser.ParseWithClaims(tok, claims, p.keyfunc)
	if err != nil {
		return ConnectReply{}, unauthorized(reason(err), err)
	}
	var rep ConnectReply
	for _, name := range p.cfg.Claims {
		if v, ok := claims[name]; ok {
			if rep.Data == nil {
				rep.Data = make(map[string]any, len(p.cfg.Claims))
			}
			rep.Data[name] = v
		}
	}
	for _, rt := range p.rooms {
		if room, ok := rt.expand(claims); ok {
			rep.Rooms = append(rep.Rooms, room)
		}
	}
	return rep, nil
}

// Shutdown stops the JWKS refresher.
func (p *JWT) Shutdown(context.Context) error {
	if p.cancel != nil {
		p.cancel()
	}
	return nil
}

func (p *JWT) token(e ConnectEvent) string {
	switch p.cfg.From {
	case FromQuery:
		return e.Handshake.Query.Get("token")
	case FromHeader:
		return bearer(e.Handshake.Headers.Get("Authorization"))
	default:
		var a struct {
			Token any `json:"token"`
		}
		if json.Unmarshal(e.Handshake.Auth, &a) != nil {
			return ""
		}
		s, _ := a.Token.(string)
		if t := bearer(s); t != "" {
			return t
		}
		return s
	}
}

// bearer returns the token of "Bearer <token>", "" otherwise.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func unauthorized(why string, err error) error {
	if err == nil {
		err = ErrUnauthorized
	} else {
		err = fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return &Error{Status: http.StatusUnauthorized, Message: "unauthorized: " + why, Err: err}
}

// reason is a short, client-safe description of a verification failure.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "invalid signature"
	default:
		return "invalid token"
	}
}

// roomTemplate is a room name with {claim} placeholders.
type roomTemplate struct {
	parts []string // literal, claim, literal, claim, …, literal
}

func parseRoom(s string) roomTemplate {
	var rt roomTemplate
	for {
		i := strings.IndexByte(s, '{')
		j := strings.IndexByte(s[max(i, 0):], '}')
		if i < 0 || j < 0 {
			rt.parts = append(rt.parts, s)
			return rt
		}
		j += i
		rt.parts = append(rt.parts, s[:i], s[i+1:j])
		s = s[j+1:]
	}
}

func (rt roomTemplate) expand(claims jwt.MapClaims) (string, bool) {
	var b strings.Builder
	for i, part := range rt.parts {
		if i%2 == 0 {
			b.WriteString(part)
			continue
		}
		switch v := claims[part].(type) {
		case string:
			if v == "" {
				return "", false
			}
			b.WriteString(v)
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
		case json.Number:
			b.WriteString(v.String())
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unknownKIDLimiter allows one JWKS fetch per d for unknown key ids
// (negative d: no bound).
func unknownKIDLimiter(d time.Duration) *rate.Limiter {
	if d < 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Every(d), 1)
}
