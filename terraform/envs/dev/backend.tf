# State in a GCS bucket created once by hand (versioned, uniform access):
#   gcloud storage buckets create gs://PROJECT-tfstate --location=REGION --uniform-bucket-level-access
#   gcloud storage buckets update gs://PROJECT-tfstate --versioning
# then `terraform init -backend-config="bucket=PROJECT-tfstate"`. GCS locks the state itself.
terraform {
  backend "gcs" {
    prefix = "kfops/dev"
  }
}
