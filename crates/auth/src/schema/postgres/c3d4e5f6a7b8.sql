CREATE TABLE role_permissions (
    id integer NOT NULL,
    role_id integer NOT NULL,
    resource_type character varying(64) NOT NULL,
    resource_pattern character varying(255) NOT NULL,
    permission character varying(255) NOT NULL
);
CREATE SEQUENCE role_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE role_permissions_id_seq OWNED BY role_permissions.id;
CREATE TABLE roles (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    workspace character varying(63) NOT NULL,
    description character varying(1024)
);
CREATE SEQUENCE roles_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE roles_id_seq OWNED BY roles.id;
CREATE TABLE user_role_assignments (
    id integer NOT NULL,
    user_id integer NOT NULL,
    role_id integer NOT NULL
);
CREATE SEQUENCE user_role_assignments_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE user_role_assignments_id_seq OWNED BY user_role_assignments.id;
ALTER TABLE ONLY role_permissions ALTER COLUMN id SET DEFAULT nextval('role_permissions_id_seq'::regclass);
ALTER TABLE ONLY roles ALTER COLUMN id SET DEFAULT nextval('roles_id_seq'::regclass);
ALTER TABLE ONLY user_role_assignments ALTER COLUMN id SET DEFAULT nextval('user_role_assignments_id_seq'::regclass);
ALTER TABLE ONLY role_permissions
    ADD CONSTRAINT role_permissions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY roles
    ADD CONSTRAINT roles_pkey PRIMARY KEY (id);
ALTER TABLE ONLY role_permissions
    ADD CONSTRAINT unique_role_resource_perm UNIQUE (role_id, resource_type, resource_pattern);
ALTER TABLE ONLY user_role_assignments
    ADD CONSTRAINT unique_user_role UNIQUE (user_id, role_id);
ALTER TABLE ONLY roles
    ADD CONSTRAINT unique_workspace_role_name UNIQUE (workspace, name);
ALTER TABLE ONLY user_role_assignments
    ADD CONSTRAINT user_role_assignments_pkey PRIMARY KEY (id);
CREATE INDEX idx_role_permissions_role_id ON role_permissions USING btree (role_id);
CREATE INDEX idx_roles_workspace ON roles USING btree (workspace);
CREATE INDEX idx_user_role_assignments_role_id ON user_role_assignments USING btree (role_id);
CREATE INDEX idx_user_role_assignments_user_id ON user_role_assignments USING btree (user_id);
ALTER TABLE ONLY role_permissions
    ADD CONSTRAINT role_permissions_role_id_fkey FOREIGN KEY (role_id) REFERENCES roles(id);
ALTER TABLE ONLY user_role_assignments
    ADD CONSTRAINT user_role_assignments_role_id_fkey FOREIGN KEY (role_id) REFERENCES roles(id);
ALTER TABLE ONLY user_role_assignments
    ADD CONSTRAINT user_role_assignments_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
