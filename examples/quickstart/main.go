package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Print("quickstart: ", err)
		os.Exit(1)
	}
}

// run tells the story to out.
func run(ctx context.Context, out io.Writer) error {
	s, err := newStory(ctx, out)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	chapters := []struct {
		title string
		fn    func() error
	}{
		{"The organisation, and who may do what", s.organisation},
		{"Marketing captures a lead; the scoring model grades it", s.captureLead},
		{"Routing gives the lead to a salesperson, and says why", s.routeLead},
		{"Converting the lead finds the customer already in the public pool", s.convertLead},
		{"A 15% discount needs the sales manager's approval", s.approveDiscount},
		{"A neglected customer falls back into the pool", s.recycle},
		{"The next morning: 李伟's work queues and one read of the customer", s.morning},
		{"Two people edit the customer at once", s.concurrentEdit},
		{"Each person's customer list is filtered in the store", s.lists},
		{"The outbox holds every change, ready to publish", s.outbox},
	}
	fmt.Fprintln(out, "crmkit quickstart: Huateng Group's CRM, in memory")
	for i, c := range chapters {
		fmt.Fprintf(out, "\n%d. %s\n", i+1, c.title)
		if err := c.fn(); err != nil {
			return fmt.Errorf("chapter %d (%s): %w", i+1, c.title, err)
		}
	}
	return nil
}
