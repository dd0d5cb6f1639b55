package flows

import "flag"

// update makes golden tests rewrite their expected files:
//
//	go test ./flows -run 'TestGolden|TestSchemaFile' -update
var update = flag.Bool("update", false, "rewrite golden files (testdata/invalid/*/expected.txt, schema/leadflow.schema.json)")
