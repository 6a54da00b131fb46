//! Category handlers: staff create them, everyone lists them. A name whose slug another category
//! has is `ALREADY_EXISTS`, never a renamed slug.

use helpdesk_kit::auth::caller;
use helpdesk_proto::kb::v1 as pb;
use tonic::{Request, Response};

use super::{Answer, KbGrpc, convert};
use crate::domain::{KbError, may_write, parse_category_name, parse_description, slugify};

impl KbGrpc {
    #[tracing::instrument(skip_all)]
    pub(super) async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Answer<pb::KbCategory> {
        may_write(&caller(&request))?;
        let request = request.into_inner();
        let name = parse_category_name(&request.name)?;
        let description = parse_description(&request.description)?;
        let slug = slugify(&name);
        let category = self.store.create_category(&name, &slug, &description).await?.ok_or_else(|| {
            KbError::Taken { field: "name", reason: format!("a category with the slug {slug} exists; choose another name") }
        })?;
        Ok(Response::new(convert::category(category)))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn list_categories(
        &self,
        _request: Request<pb::ListCategoriesRequest>,
    ) -> Answer<pb::ListCategoriesResponse> {
        let categories = self.store.categories().await?;
        Ok(Response::new(pb::ListCategoriesResponse { categories: categories.into_iter().map(convert::category).collect() }))
    }
}
