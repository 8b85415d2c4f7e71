CREATE TABLE gateway_endpoint_permissions (
    id integer NOT NULL,
    endpoint_id character varying(255) NOT NULL,
    user_id integer NOT NULL,
    permission character varying(255)
);
CREATE SEQUENCE gateway_endpoint_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE gateway_endpoint_permissions_id_seq OWNED BY gateway_endpoint_permissions.id;
CREATE TABLE gateway_model_definition_permissions (
    id integer NOT NULL,
    model_definition_id character varying(255) NOT NULL,
    user_id integer NOT NULL,
    permission character varying(255)
);
CREATE SEQUENCE gateway_model_definition_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE gateway_model_definition_permissions_id_seq OWNED BY gateway_model_definition_permissions.id;
CREATE TABLE gateway_secret_permissions (
    id integer NOT NULL,
    secret_id character varying(255) NOT NULL,
    user_id integer NOT NULL,
    permission character varying(255)
);
CREATE SEQUENCE gateway_secret_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE gateway_secret_permissions_id_seq OWNED BY gateway_secret_permissions.id;
ALTER TABLE ONLY gateway_endpoint_permissions ALTER COLUMN id SET DEFAULT nextval('gateway_endpoint_permissions_id_seq'::regclass);
ALTER TABLE ONLY gateway_model_definition_permissions ALTER COLUMN id SET DEFAULT nextval('gateway_model_definition_permissions_id_seq'::regclass);
ALTER TABLE ONLY gateway_secret_permissions ALTER COLUMN id SET DEFAULT nextval('gateway_secret_permissions_id_seq'::regclass);
ALTER TABLE ONLY gateway_endpoint_permissions
    ADD CONSTRAINT gateway_endpoint_permissions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gateway_model_definition_permissions
    ADD CONSTRAINT gateway_model_definition_permissions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gateway_secret_permissions
    ADD CONSTRAINT gateway_secret_permissions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gateway_endpoint_permissions
    ADD CONSTRAINT unique_endpoint_user UNIQUE (endpoint_id, user_id);
ALTER TABLE ONLY gateway_model_definition_permissions
    ADD CONSTRAINT unique_model_def_user UNIQUE (model_definition_id, user_id);
ALTER TABLE ONLY gateway_secret_permissions
    ADD CONSTRAINT unique_secret_user UNIQUE (secret_id, user_id);
ALTER TABLE ONLY gateway_endpoint_permissions
    ADD CONSTRAINT fk_gateway_endpoint_perm_user_id FOREIGN KEY (user_id) REFERENCES users(id);
ALTER TABLE ONLY gateway_model_definition_permissions
    ADD CONSTRAINT fk_gateway_model_def_perm_user_id FOREIGN KEY (user_id) REFERENCES users(id);
ALTER TABLE ONLY gateway_secret_permissions
    ADD CONSTRAINT fk_gateway_secret_perm_user_id FOREIGN KEY (user_id) REFERENCES users(id);
