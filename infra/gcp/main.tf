# daloy_edge reference app as a 2nd-generation Cloud Function (Cloud Run underneath), with its
# secrets in Secret Manager, a dedicated least-privilege service account and bounded scaling.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

variable "project" {
  type        = string
  description = "GCP project id."
}

variable "region" {
  type    = string
  default = "europe-west1"
}

variable "source_bucket" {
  type        = string
  description = "Bucket holding the zipped source (built by `daloy-edge new --target gcf`)."
}

variable "source_object" {
  type        = string
  description = "Object name of the zipped source in source_bucket."
}

variable "jwks_url" {
  type = string
}

variable "jwt_issuer" {
  type = string
}

variable "jwt_audience" {
  type = string
}

variable "admin_user" {
  type        = string
  default     = "admin"
  description = "User name for basic auth on /admin (DALOY_ADMIN_USER); its passwords are the admin_passwords secret."
}

variable "cors_origins" {
  type        = string
  default     = ""
  description = "Comma-separated allowed origins (DALOY_CORS_ORIGINS); empty allows none."
}

variable "egress_allow_hosts" {
  type        = string
  default     = ""
  description = "Comma-separated hosts /fetch may reach (DALOY_EGRESS_ALLOW_HOSTS); empty allows any public host."
}

variable "rate_limit_url" {
  type        = string
  default     = ""
  description = "Upstash REST endpoint (DALOY_RATE_LIMIT_URL) every instance shares for /limited and webhook replays; its token is the rate-limit-token secret. Empty keeps both in each instance's memory, so they hold per instance only."
  validation {
    condition     = var.rate_limit_url == "" || startswith(var.rate_limit_url, "https://")
    error_message = "rate_limit_url must be an https:// URL or empty."
  }
}

variable "kms_key" {
  type        = string
  description = "Cloud KMS key (projects/…/cryptoKeys/…) that encrypts the secrets (CMEK)."
}

variable "max_instances" {
  type        = number
  default     = 50
  description = "Outer load-shedding bound; the app sheds inside each instance as well."
}

provider "google" {
  project = var.project
  region  = var.region
}

resource "google_service_account" "app" {
  account_id   = "daloy-edge-app"
  display_name = "daloy_edge reference app (runtime identity)"
}

locals {
  # Environment variable names (not values) keyed by secret name; the Upstash token only
  # when there is an Upstash endpoint to use it with.
  secrets = merge(
    {
      session_keys    = "DALOY_SESSION_KEYS"
      admin_passwords = "DALOY_ADMIN_PASSWORDS" # checkov:skip=CKV_SECRET_6: a variable name, not a secret value
      webhook_secrets = "DALOY_WEBHOOK_SECRETS"
    },
    var.rate_limit_url == "" ? {} : { rate_limit_token = "DALOY_RATE_LIMIT_TOKEN" },
  )
}

resource "google_secret_manager_secret" "app" {
  for_each  = local.secrets
  secret_id = "daloy-edge-${replace(each.key, "_", "-")}"
  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = var.kms_key
        }
      }
    }
  }
}

# The runtime identity may read only its own secrets: no project-wide role.
resource "google_secret_manager_secret_iam_member" "app_reads_own_secrets" {
  for_each  = google_secret_manager_secret.app
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.app.email}"
}

resource "google_cloudfunctions2_function" "app" {
  # checkov:skip=CKV_GCP_124: this is the public API endpoint itself; every non-public route authenticates in the app. Put an external HTTPS load balancer with Cloud Armor in front and switch to ALLOW_INTERNAL_AND_GCLB when a WAF is wanted (docs/shared-responsibility.md)
  name     = "daloy-edge-app"
  location = var.region

  build_config {
    runtime     = "python313"
    entry_point = "gcf_handler"
    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    available_memory                 = "512M"
    timeout_seconds                  = 15
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.app.email
    environment_variables = {
      # Cloud Logging joins a line to its request and trace only by
      # projects/PROJECT/traces/ID, and a 2nd-generation function is given no project id.
      GOOGLE_CLOUD_PROJECT = var.project
      DALOY_ENV            = "production"
      DALOY_JWKS_URL       = var.jwks_url
      DALOY_JWT_ISSUER     = var.jwt_issuer
      DALOY_JWT_AUDIENCE   = var.jwt_audience
      DALOY_ADMIN_USER     = var.admin_user
      DALOY_CORS_ORIGINS   = var.cors_origins
      # Without a shared store every instance keeps its own /limited counts and webhook
      # deliveries: a replay is refused only by the instance that saw the first one.
      DALOY_RATE_LIMIT_URL     = var.rate_limit_url
      DALOY_EGRESS_ALLOW_HOSTS = var.egress_allow_hosts
    }
    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value
        project_id = var.project
        secret     = google_secret_manager_secret.app[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.app_reads_own_secrets]
}

# A 2nd-generation function answers through its Cloud Run service, which refuses every
# request without a Google identity token (403) unless allUsers may invoke it. The app is
# the public API endpoint (ingress ALLOW_ALL above) and authenticates its non-public routes.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  # checkov:skip=CKV_GCP_102: the public API endpoint itself, as the function's ingress; every non-public route authenticates in the app (JWT, basic auth, signed sessions, webhook signatures)
  location = google_cloudfunctions2_function.app.location
  service  = google_cloudfunctions2_function.app.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

output "url" {
  value = google_cloudfunctions2_function.app.url
}
