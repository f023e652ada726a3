package cdc

// Table describes a source table as the catalog shows it: what the
// mapping needs to shape its rows (columns, keys, foreign keys). The
// PostgreSQL adapter fills it; mapping and the pipeline read it.
type Table struct {
	OID    uint32
	Schema string
	Name   string
	// Columns in attribute order, dropped columns left out.
	Columns []TableColumn
	// PrimaryKey lists the primary key's columns in key order.
	PrimaryKey []string
	// ReplicaIdentity is 'd' (default: the primary key), 'f' (full),
	// 'i' (an index) or 'n' (nothing).
	ReplicaIdentity byte
	ForeignKeys     []ForeignKey
	// Unique lists unique constraints (not the primary key).
	Unique [][]string
	// EstimatedRows is the planner's row estimate, for progress and
	// chunking.
	EstimatedRows int64
	// Pages is the table's size in blocks, for ctid-range chunking.
	Pages int64
}

// TableColumn is one column of a Table.
type TableColumn struct {
	Name     string
	Num      int16
	TypeOID  uint32
	TypeMod  int32
	TypeName string // format_type, e.g. "numeric(10,2)"
	NotNull  bool
}

// ForeignKey is a foreign-key constraint of a table.
type ForeignKey struct {
	Name       string
	Columns    []string
	RefSchema  string
	RefTable   string
	RefColumns []string
}

// QualifiedName is schema.name for messages.
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// Column returns the column with the given name.
func (t *Table) Column(name string) (TableColumn, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return TableColumn{}, false
}
