package crm_test

import (
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// A quarter cut into months in a tenant's time zone: an instant late on
// 31 March UTC is already April in Shanghai, and daily buckets over 20
// years are refused, naming the field.
func ExamplePeriod() {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	q := crm.Period{From: time.Date(2026, 1, 1, 0, 0, 0, 0, sh), To: time.Date(2026, 4, 1, 0, 0, 0, 0, sh), Bucket: crm.BucketMonth, Location: sh}
	for _, b := range q.Buckets() {
		fmt.Println(b.Format("2006-01"))
	}
	fmt.Println(q.Start(time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC)).Format("2006-01-02"))
	long := crm.Period{From: q.From, To: q.From.AddDate(20, 0, 0), Bucket: crm.BucketDay}
	fmt.Println(long.Validate() != nil)
	// Output:
	// 2026-01
	// 2026-02
	// 2026-03
	// 2026-04-01
	// true
}
