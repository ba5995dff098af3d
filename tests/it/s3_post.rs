//! Browser POST uploads (a form with a policy signed by the server), with boto3's
//! generate_presigned_post and requests, and who may post where.

use crate::python_clients::run_python;
use crate::support::*;

#[tokio::test]
async fn boto3_signed_forms_upload_within_their_policy() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_post_boto3.py").await;
    tp.stop().await;
}
