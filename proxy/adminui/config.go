package adminui

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Modes, as the package's mode option.
const (
	// ModeDevelopment sends every socket, room and event to the UI.
	ModeDevelopment = "development"
	// ModeProduction sends the server stats only; commands still work.
	ModeProduction = "production"
)

// DefaultNamespace is Config.Namespace's zero value, the package's
// namespaceName default.
const DefaultNamespace = "/admin"

// statsInterval is how often server_stats goes out, as the package.
const statsInterval = 2 * time.Second

// Config configures Instrument. Username and PasswordHash are required:
// the UI is never open.
type Config struct {
	// Namespace is the admin namespace; "" means DefaultNamespace. A
	// name without a leading "/" gets one.
	Namespace string
	// Username and PasswordHash are the basic credentials: the password
	// is checked against this bcrypt hash ($2a$, $2b$ or $2y$), as the
	// package's auth: {type: "basic"} does.
	Username     string
	PasswordHash string
	// ReadOnly refuses the UI's commands (emit, join, leave, disconnect):
	// they are not listened to and the UI greys them out.
	ReadOnly bool
	// Mode is ModeDevelopment ("" means it) or ModeProduction.
	Mode string
	// ServerID names this node in the UI; "" means the hostname.
	ServerID string
	// Logger receives the package's logs. Nil means slog.Default().
	Logger *slog.Logger

	// interval overrides statsInterval in tests.
	interval time.Duration
}

// ErrConfig is wrapped by Instrument's errors about its Config.
var ErrConfig = errors.New("adminui: invalid config")

// Validate reports what Instrument would refuse in c (errors wrapping
// ErrConfig), for a configuration check that starts nothing.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if !strings.HasPrefix(c.Namespace, "/") {
		c.Namespace = "/" + c.Namespace
	}
	if c.Username == "" {
		return c, fmt.Errorf("%w: username is required", ErrConfig)
	}
	if _, err := bcrypt.Cost([]byte(c.PasswordHash)); err != nil {
		// The package's words: "the `password` field must be a valid
		// bcrypt hash".
		return c, fmt.Errorf("%w: the password must be a valid bcrypt hash: %w", ErrConfig, err)
	}
	switch c.Mode {
	case "":
		c.Mode = ModeDevelopment
	case ModeDevelopment, ModeProduction:
	default:
		return c, fmt.Errorf("%w: mode %q is neither %q nor %q", ErrConfig, c.Mode, ModeDevelopment, ModeProduction)
	}
	if c.ServerID == "" {
		c.ServerID = hostname()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.interval <= 0 {
		c.interval = statsInterval
	}
	return c, nil
}

// hostname is os.Hostname, "" when it cannot be read.
func hostname() string {
	h, _ := os.Hostname()
	return h
}
