package drivers

import "fmt"

// Lacks says what of DialOptions a driver's library cannot do, each field
// the reason it cannot ("" when it can). Options are refused before any
// connection opens (CheckOptions), rather than a run quietly measuring
// something other than what was asked.
type Lacks struct {
	// Compression: the library cannot offer permessage-deflate.
	Compression string
}

// Lacking is a Driver whose library cannot do everything DialOptions
// offer. A driver that is not one can do all of it.
type Lacking interface {
	Lacks() Lacks
}

// LacksOf is what d's library cannot do; the zero Lacks for a driver that
// can do everything.
func LacksOf(d Driver) Lacks {
	if l, ok := d.(Lacking); ok {
		return l.Lacks()
	}
	return Lacks{}
}

// LackError refuses an option the driver's library cannot honour.
type LackError struct {
	Driver string
	What   string // the option: "compression"
	Why    string
}

func (e *LackError) Error() string {
	return fmt.Sprintf("driver %s cannot do %s: %s", e.Driver, e.What, e.Why)
}

// CheckOptions refuses, before any connection opens, what driver d's
// library cannot do of what a run asks: compression is --compression.
func CheckOptions(d Driver, compression bool) error {
	if why := LacksOf(d).Compression; compression && why != "" {
		return fmt.Errorf("--compression: %w; choose another --driver", &LackError{Driver: d.Name(), What: "permessage-deflate", Why: why})
	}
	return nil
}
