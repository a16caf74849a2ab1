"""B2B trade credit: retailers order on credit, wholesalers watch their ledgers, admins block."""

from flask import Flask

from app.config import Config, refuse_development_secrets, sqlalchemy_url


def create_app(config: type[Config] | dict | None = None) -> Flask:
    """Build the app: configuration (refused in production on a development secret, before any I/O), database,
    extensions, security, blueprints, error pages, commands."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.from_mapping(config)
    elif config is not None:
        app.config.from_object(config)
    refuse_development_secrets(app.config)
    configure_database(app)
    register_extensions(app)
    register_observability(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_filters(app)
    register_commands(app)
    return app


def configure_database(app: Flask) -> None:
    """DATABASE_URL when set; otherwise the embedded development server under instance/."""
    if app.config.get("SQLALCHEMY_DATABASE_URI"):
        return
    url = app.config.get("DATABASE_URL")
    if url:
        app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(url)
    else:
        from app.embedded_db import embedded_database_url

        app.config["SQLALCHEMY_DATABASE_URI"] = embedded_database_url(
            app.instance_path, database=app.config["EMBEDDED_DATABASE_NAME"])


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (mappings must be known to Alembic and the session)
    from app.extensions import csrf, db, end_database_session, login_manager, migrate
    from app.services.sessions import user_for_session

    db.init_app(app)
    app.teardown_appcontext(end_database_session)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(user_for_session)


def register_observability(app: Flask) -> None:
    # Before security and the blueprints, so every request has its id before anything can answer it.
    from app.observability import register

    register(app)


def register_security(app: Flask) -> None:
    from app.security import register_security

    register_security(app)


def register_blueprints(app: Flask) -> None:
    from app.routing import IdConverter

    app.url_map.converters["id"] = IdConverter  # before any route uses <id:…>
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.extensions import csrf
    from app.holds import bp as holds_bp
    from app.integrations import bp as integrations_bp
    from app.limit_requests import bp as limit_requests_bp
    from app.observability.routes import bp as ops_bp
    from app.orders import bp as orders_bp
    from app.retailers import bp as retailers_bp
    from app.statements import bp as statements_bp
    from app.team import bp as team_bp
    from app.wholesalers import bp as wholesalers_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(retailers_bp, url_prefix="/retailer")
    app.register_blueprint(wholesalers_bp, url_prefix="/wholesaler")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)  # bearer tokens, never cookies: nothing for a forged cross-site request to ride on
    app.register_blueprint(ops_bp)
    app.register_blueprint(orders_bp, url_prefix="/orders")
    app.register_blueprint(team_bp, url_prefix="/team")
    app.register_blueprint(integrations_bp, url_prefix="/integrations")
    app.register_blueprint(statements_bp, url_prefix="/statements")
    app.register_blueprint(holds_bp, url_prefix="/holds")
    app.register_blueprint(limit_requests_bp, url_prefix="/limit-requests")


def register_errorhandlers(app: Flask) -> None:
    from app.errors import register

    register(app)


def register_template_filters(app: Flask) -> None:
    from app.formatting import register

    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
