package salesforce

// SetBulkUploadLimit lets tests split ingest jobs at a few hundred bytes
// instead of 100 MB.
func SetBulkUploadLimit(d *Driver, n int) { d.maxUpload = n }
