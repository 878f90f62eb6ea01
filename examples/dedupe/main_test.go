package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunBlocksTheDuplicateThenMergesAndUndoes(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	for _, line := range []string{
		"blocked: this looks like 北京华腾科技有限公司, owned by 李伟\n",
		"  phone: exact (+16.3)\n",
		"customers stored: 1\n",
		"  email   sales@yuanhang.example (keep_all, from the duplicate)\n",
		"re-pointed: 2 records\n",
		"  contact 王芳 belongs to 上海远航物流有限公司; the call belongs to 上海远航物流有限公司\n",
		"远航物流 is kept, merged into 上海远航物流有限公司\n",
		"  上海远航物流有限公司: email \"\", industry \"\"\n",
		"  contact 王芳 belongs to 远航物流; the call belongs to 远航物流\n",
		"events: user.created customer.created customer.created customer.created contact.created activity.created contact.updated activity.updated customer.updated customer.updated customer.merged customer.updated customer.updated contact.updated activity.updated customer.merge_undone\n",
	} {
		require.Contains(t, got, line)
	}
}
