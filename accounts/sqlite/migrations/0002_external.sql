-- Links from identities at outside providers (a Firebase uid) to users:
-- one user per identity; a user may have several.
CREATE TABLE external_identities (
	provider   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (provider, subject)
) STRICT, WITHOUT ROWID;
CREATE INDEX external_identities_user ON external_identities (user_id);
