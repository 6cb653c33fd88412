//go:build race

package drivers

func init() { raceEnabled = true }
