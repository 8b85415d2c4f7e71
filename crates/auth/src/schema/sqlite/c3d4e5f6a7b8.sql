CREATE TABLE roles (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	workspace VARCHAR(63) NOT NULL, 
	description VARCHAR(1024), 
	PRIMARY KEY (id), 
	CONSTRAINT unique_workspace_role_name UNIQUE (workspace, name)
);
CREATE INDEX idx_roles_workspace ON roles (workspace);
CREATE TABLE role_permissions (
	id INTEGER NOT NULL, 
	role_id INTEGER NOT NULL, 
	resource_type VARCHAR(64) NOT NULL, 
	resource_pattern VARCHAR(255) NOT NULL, 
	permission VARCHAR(255) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT unique_role_resource_perm UNIQUE (role_id, resource_type, resource_pattern), 
	FOREIGN KEY(role_id) REFERENCES roles (id)
);
CREATE INDEX idx_role_permissions_role_id ON role_permissions (role_id);
CREATE TABLE user_role_assignments (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	role_id INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT unique_user_role UNIQUE (user_id, role_id), 
	FOREIGN KEY(user_id) REFERENCES users (id), 
	FOREIGN KEY(role_id) REFERENCES roles (id)
);
CREATE INDEX idx_user_role_assignments_user_id ON user_role_assignments (user_id);
CREATE INDEX idx_user_role_assignments_role_id ON user_role_assignments (role_id);
