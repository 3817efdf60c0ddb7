package store

// analyzerMigration is reserved; its owner replaces this placeholder with the real schema.
const analyzerMigration = `SELECT 1;`
