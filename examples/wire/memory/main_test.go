package main

// The README quotes this program; running it here keeps the quote honest.
func Example() {
	main()
	// Output: claimed; copy refused: true
}
