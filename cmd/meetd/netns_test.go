package main

// runHelper runs a helper role when the test binary was started as one.
func runHelper() bool { return false }
