-- Seed data: the 4 tiers, the 11 features, the full 4 x 11 matrix and the settings.
-- ON CONFLICT DO NOTHING: seeding never overwrites what an admin changed.

INSERT INTO tiers (id, name, description, rank, active, sort_order) VALUES
    ('free',       'Free',        'A useful app with monthly limits.',        0,  TRUE, 10),
    ('basic',      'Basic',       'More entries, exports and some AI.',       10, TRUE, 20),
    ('premium',    'Premium',     'Everything, with generous AI limits.',     20, TRUE, 30),
    ('selfhosted', 'Self-hosted', 'Your own server: everything, unlimited.',  30, TRUE, 40)
ON CONFLICT (id) DO NOTHING;

INSERT INTO features (id, name, description, category, kind, unit, reset_period, default_limit, active, sort_order) VALUES
    ('weight',        'Weight entries',        'Record body weight.',                        'data',   'count',   'entries',  'monthly', 31, TRUE, 10),
    ('circumference', 'Circumference entries', 'Record body circumferences.',                'data',   'count',   'entries',  'monthly', 10, TRUE, 20),
    ('caliper',       'Caliper measurements',  'Skinfold measurements and body-fat %.',      'data',   'count',   'entries',  'monthly', 4,  TRUE, 30),
    ('nutrition',     'Nutrition entries',     'Record meals: kcal and macros.',             'data',   'count',   'entries',  'daily',   10, TRUE, 40),
    ('activity',      'Activity entries',      'Record training and activity.',              'data',   'count',   'entries',  'daily',   5,  TRUE, 50),
    ('photos',        'Progress photos',       'Upload progress photos.',                    'data',   'count',   'photos',   'monthly', 5,  TRUE, 60),
    ('ai_calls',      'AI insights',           'Questions answered by the AI.',              'ai',     'count',   'calls',    'monthly', 3,  TRUE, 70),
    ('ai_pipeline',   'AI pipeline',           'Multi-step AI analysis of all your data.',   'ai',     'boolean', NULL,       'never',   0,  TRUE, 80),
    ('export_csv',    'CSV export',            'Download your data as CSV.',                 'export', 'count',   'exports',  'monthly', 1,  TRUE, 90),
    ('export_json',   'JSON export',           'Download your data as JSON.',                'export', 'count',   'exports',  'monthly', 1,  TRUE, 100),
    ('export_zip',    'ZIP export',            'Download everything, photos included.',      'export', 'count',   'exports',  'monthly', 0,  TRUE, 110)
ON CONFLICT (id) DO NOTHING;

INSERT INTO tier_limits (tier_id, feature_id, usage_limit) VALUES
    ('free', 'weight', 31),         ('basic', 'weight', 100),        ('premium', 'weight', NULL),        ('selfhosted', 'weight', NULL),
    ('free', 'circumference', 10),  ('basic', 'circumference', 50),  ('premium', 'circumference', NULL), ('selfhosted', 'circumference', NULL),
    ('free', 'caliper', 4),         ('basic', 'caliper', 20),        ('premium', 'caliper', NULL),       ('selfhosted', 'caliper', NULL),
    ('free', 'nutrition', 10),      ('basic', 'nutrition', 30),      ('premium', 'nutrition', NULL),     ('selfhosted', 'nutrition', NULL),
    ('free', 'activity', 5),        ('basic', 'activity', 20),       ('premium', 'activity', NULL),      ('selfhosted', 'activity', NULL),
    ('free', 'photos', 5),          ('basic', 'photos', 30),         ('premium', 'photos', 200),         ('selfhosted', 'photos', NULL),
    ('free', 'ai_calls', 3),        ('basic', 'ai_calls', 30),       ('premium', 'ai_calls', 200),       ('selfhosted', 'ai_calls', NULL),
    ('free', 'ai_pipeline', 0),     ('basic', 'ai_pipeline', 0),     ('premium', 'ai_pipeline', 1),      ('selfhosted', 'ai_pipeline', NULL),
    ('free', 'export_csv', 1),      ('basic', 'export_csv', 10),     ('premium', 'export_csv', NULL),    ('selfhosted', 'export_csv', NULL),
    ('free', 'export_json', 1),     ('basic', 'export_json', 10),    ('premium', 'export_json', NULL),   ('selfhosted', 'export_json', NULL),
    ('free', 'export_zip', 0),      ('basic', 'export_zip', 2),      ('premium', 'export_zip', 10),      ('selfhosted', 'export_zip', NULL)
ON CONFLICT (tier_id, feature_id) DO NOTHING;

INSERT INTO app_settings (key, value) VALUES
    ('registration_mode',          '"open"'),
    ('require_email_verification', 'true'),
    ('default_tier',               '"free"'),
    ('trial_days',                 '14'),
    ('trial_tier',                 '"premium"'),
    ('usage_timezone',             '"UTC"'),
    ('wellpass_grace_days',        '3'),
    ('users_can_invite',           'false'),
    ('mail_from',                  '"Mitai <noreply@localhost>"'),
    ('base_url',                   'null'),
    ('photo_max_bytes',            '10485760'),
    ('reminder_lead_days',         '3')
ON CONFLICT (key) DO NOTHING;
