package dedupe

import "strings"

// nicknameGroups lists English given names with their common short forms
// and variants, one group a line: records of one person often give
// "William" once and "Bill" the next time.
var nicknameGroups = []string{
	"william will bill billy willie willy wm liam",
	"robert rob bob bobby robbie bert",
	"richard rick dick ricky rich richie",
	"thomas tom tommy thom",
	"james jim jimmy jamie jas",
	"john jack johnny jon",
	"joseph joe joey jos",
	"charles charlie chuck chas",
	"edward ed eddie ted teddy ned",
	"edmund ed ned",
	"henry harry hal hank",
	"harold harry hal",
	"elizabeth eliza liz lizzie beth betty bess bessie libby elsie lisa",
	"margaret maggie meg peggy madge marge greta rita",
	"catherine katherine kathryn katharine kate kathy katie kitty cathy kit",
	"mary molly polly mae mamie",
	"anne ann anna annie nan nancy nanny",
	"hannah anna annie nan",
	"sarah sara sally sadie",
	"francis frank frankie fran",
	"frances fanny fran frankie",
	"frederick frederic fred freddie freddy",
	"alfred alf alfie fred",
	"alexander alex alec sandy",
	"alexandra alex sandra sandy",
	"samuel sam sammy",
	"benjamin ben benny",
	"daniel dan danny",
	"matthew matt",
	"michael mike mick mickey",
	"nicholas nick nicky",
	"christopher chris kit",
	"christine christina chris tina",
	"anthony tony",
	"andrew andy drew",
	"stephen steven steve",
	"david dave davy",
	"peter pete",
	"patrick pat paddy",
	"patricia pat patty trish",
	"jennifer jen jenny",
	"rebecca becky",
	"susan susannah susanna sue susie",
	"dorothy dot dolly dottie",
	"albert al bert bertie",
	"arthur art artie",
	"walter walt wally",
	"george georgie",
	"isabella isabel belle bella izzy",
	"jessica jess jessie",
	"joshua josh",
	"jonathan jon jonny",
	"lawrence laurence larry laurie",
	"leonard len lenny leo",
	"louis lewis lou",
	"gerald gerard gerry jerry",
	"jeremy jerry",
	"victoria vicky vic",
	"eleanor ellen helen nell nellie ellie",
	"gilbert gil bert",
	"herbert herb bert",
	"augustus gus",
	"theodore ted teddy theo",
	"timothy tim",
	"raymond ray",
	"ronald ron ronnie",
	"donald don donnie",
	"kenneth ken kenny",
	"douglas doug",
	"gregory greg",
	"jacob jake",
	"abigail abby",
	"deborah debbie deb",
	"judith judy",
	"martha mattie patty",
	"josephine jo josie",
	"joanna johanna joan jo",
	"emily emmy em",
	"amelia amy milly",
	"mildred millie",
	"archibald archie",
	"reginald reg reggie",
	"montague monty",
	"percival percy",
	"bartholomew bart",
	"nathaniel nathan nat nate",
	"zachary zach",
	"philip phillip phil pip",
	"agnes aggie nessie",
	"cecilia cecily cissy",
	"caroline carolyn carrie",
	"charlotte lottie",
	"clara clare clarissa",
	"constance connie",
	"florence flo flossie",
	"gertrude gertie trudy",
	"harriet hattie",
	"henrietta etta hetty",
	"jane jenny jennie janie",
	"janet jan",
	"louisa louise lou lulu",
	"matilda tilly tilda maud",
	"prudence prue",
	"theresa teresa tess tessa terry",
	"winifred winnie freda",
	"vincent vince vinnie",
	"ernest ernie",
	"eugene gene",
	"stanley stan",
	"sidney sydney sid",
	"wilfred wilfrid wilf",
	"horace horry",
	"solomon sol",
	"abraham abe",
	"isaac ike",
	"ezekiel zeke",
	"elias elijah eli",
	"mathilde matilda",
	"johann johannes john hans",
	"giovanni john",
	"guillaume william",
	"henri henry",
	"jacques james",
	"pierre peter",
}

// nicknames maps a name to the groups it belongs to.
var nicknames = func() map[string][]uint16 {
	m := map[string][]uint16{}
	for g, line := range nicknameGroups {
		for _, name := range strings.Fields(line) {
			m[name] = append(m[name], uint16(g))
		}
	}
	return m
}()

// sameGivenName reports whether two different given names are forms of
// one name (William and Bill). Only the first word of each is looked up.
// It does not allocate.
func sameGivenName(a, b string) bool {
	a, _ = nextToken(a)
	b, _ = nextToken(b)
	ga, ok := nicknames[a]
	if !ok {
		return false
	}
	gb, ok := nicknames[b]
	if !ok {
		return false
	}
	for _, x := range ga {
		for _, y := range gb {
			if x == y {
				return true
			}
		}
	}
	return false
}
