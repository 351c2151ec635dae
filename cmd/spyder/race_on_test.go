//go:build race

package main

// raceEnabled makes the end-to-end tests build the spyder binary with -race
// too, so the processes under test are checked as well as the test itself.
const raceEnabled = true
