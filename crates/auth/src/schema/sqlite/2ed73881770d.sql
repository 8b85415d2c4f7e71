CREATE TABLE workspace_permissions (
	workspace VARCHAR(63) NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(32) NOT NULL, 
	CONSTRAINT workspace_permissions_pk PRIMARY KEY (workspace, user_id), 
	FOREIGN KEY(user_id) REFERENCES users (id)
);
CREATE INDEX idx_workspace_permissions_user_id ON workspace_permissions (user_id);
CREATE INDEX idx_workspace_permissions_workspace ON workspace_permissions (workspace);
CREATE TABLE _alembic_tmp_registered_model_permissions (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(255), 
	workspace VARCHAR(63) DEFAULT 'default' NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_user_id FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT unique_workspace_name_user UNIQUE (workspace, name, user_id)
);
INSERT INTO _alembic_tmp_registered_model_permissions (id, name, user_id, permission)
SELECT id, name, user_id, permission FROM registered_model_permissions;
DROP TABLE registered_model_permissions;
ALTER TABLE _alembic_tmp_registered_model_permissions RENAME TO registered_model_permissions;
