package bench

import "testing"

// sizes are the three policy sizes of the comparison.
var sizes = []struct {
	name string
	w    func(testing.TB) *world
}{
	{"small/scenario-29rules-100users", func(tb testing.TB) *world { return scenarioWorld(tb, 100, 4096) }},
	{"medium/1000users-70rules", func(tb testing.TB) *world { return generatedWorld(tb, 2, 12, 10, 7, 1000, 4096) }},
	{"large/10000users-500rules", func(tb testing.TB) *world { return generatedWorld(tb, 3, 40, 50, 10, 10000, 4096) }},
}

// BenchmarkCheck runs the same requests through both engines at each size.
// The crmkit/casbin ratio per size is the comparison's headline figure.
func BenchmarkCheck(b *testing.B) {
	for _, sz := range sizes {
		w := sz.w(b)
		b.Run(sz.name+"/crmkit", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				q := &w.reqs[i&4095]
				_ = w.policy.Check(&q.subject, q.action, &q.res)
			}
		})
		b.Run(sz.name+"/casbin", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				q := &w.reqs[i&4095]
				u := w.users[q.user]
				if _, err := w.casbin.Enforce(u.ID, u.DepartmentID, q.action, &q.res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
