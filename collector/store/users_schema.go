package store

// usersMigration is reserved; its owner replaces this placeholder with the real schema.
const usersMigration = `SELECT 1;`
