package store

// forwardMigration is reserved; its owner replaces this placeholder with the real schema.
const forwardMigration = `SELECT 1;`
