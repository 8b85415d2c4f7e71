CREATE TABLE scorer_permissions (
    id integer NOT NULL,
    experiment_id character varying(255) NOT NULL,
    scorer_name character varying(256) NOT NULL,
    user_id integer NOT NULL,
    permission character varying(255)
);
CREATE SEQUENCE scorer_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE scorer_permissions_id_seq OWNED BY scorer_permissions.id;
ALTER TABLE ONLY scorer_permissions ALTER COLUMN id SET DEFAULT nextval('scorer_permissions_id_seq'::regclass);
ALTER TABLE ONLY scorer_permissions
    ADD CONSTRAINT scorer_permissions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY scorer_permissions
    ADD CONSTRAINT unique_scorer_user UNIQUE (experiment_id, scorer_name, user_id);
ALTER TABLE ONLY scorer_permissions
    ADD CONSTRAINT fk_scorer_perm_user_id FOREIGN KEY (user_id) REFERENCES users(id);
