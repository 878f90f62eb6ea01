package pgstore

// FallingBackSQL exposes the falling-back queue's statement to the plan
// tests.
var FallingBackSQL = fallingBackQuery
