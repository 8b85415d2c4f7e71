CREATE TABLE gateway_secret_permissions (
	id INTEGER NOT NULL, 
	secret_id VARCHAR(255) NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(255), 
	PRIMARY KEY (id), 
	CONSTRAINT fk_gateway_secret_perm_user_id FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT unique_secret_user UNIQUE (secret_id, user_id)
);
CREATE TABLE gateway_endpoint_permissions (
	id INTEGER NOT NULL, 
	endpoint_id VARCHAR(255) NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(255), 
	PRIMARY KEY (id), 
	CONSTRAINT fk_gateway_endpoint_perm_user_id FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT unique_endpoint_user UNIQUE (endpoint_id, user_id)
);
CREATE TABLE gateway_model_definition_permissions (
	id INTEGER NOT NULL, 
	model_definition_id VARCHAR(255) NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(255), 
	PRIMARY KEY (id), 
	CONSTRAINT fk_gateway_model_def_perm_user_id FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT unique_model_def_user UNIQUE (model_definition_id, user_id)
);
