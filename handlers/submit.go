package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"omtx/api"
	"omtx/hub"
	"omtx/jobs"
)

// caller is the signed-in user as the service sees a submitter.
func (s *server) caller(c echo.Context) hub.Caller {
	p := userOf(c)
	lim := s.limits(p.user.Tier)
	return hub.Caller{
		UserID:             p.user.ID,
		MaxLigandsPerBatch: lim.MaxLigandsPerBatch,
		MaxRunning:         lim.MaxRunning,
		RequestID:          RequestID(c.Request().Context()),
	}
}

func userID(c echo.Context) string { return userOf(c).user.ID }

// Headers of idempotent submission: the caller's key for a submission, and
// the answer's mark that it repeats an earlier one.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
)

// submitHeaders documents the headers of the submitting routes.
type submitHeaders struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"A key of your own (1 to 255 visible ASCII characters, such as a UUID) that makes a retry safe: a repeat of a submission under the same key records nothing new and answers the first submission, with replayed set and the header Idempotent-Replayed; the same key with a different submission answers 409. A key is held as long as its batch or job exists."`
}

// submitCaller is the caller of a submitting request, with its
// Idempotency-Key header checked.
func (s *server) submitCaller(c echo.Context) (hub.Caller, error) {
	caller := s.caller(c)
	keys := c.Request().Header.Values(headerIdempotencyKey)
	switch {
	case len(keys) > 1:
		return caller, jobs.FieldError(jobs.IdempotencyField, "must be sent once, not %d times", len(keys))
	case len(keys) == 1:
		if err := jobs.CheckIdempotencyKey(keys[0]); err != nil {
			return caller, err
		}
		caller.IdempotencyKey = keys[0]
	}
	return caller, nil
}

// accepted answers a submission: 202 with its batch or job, marked when
// it repeats an earlier one.
func accepted(c echo.Context, replayed bool, resp any) error {
	if replayed {
		c.Response().Header().Set(headerReplayed, "true")
	}
	return c.JSON(http.StatusAccepted, resp)
}

// submitBatch takes a batch as JSON with its ligands inline, or as a
// multipart upload of a library file.
func (s *server) submitBatch(c echo.Context) error {
	ctx := c.Request().Context()
	kind, err := kindOf(c.Request(), true)
	if err != nil {
		return err
	}
	caller, err := s.submitCaller(c)
	if err != nil {
		return err
	}
	var resp *api.SubmitBatchResponse
	if kind == bodyJSON {
		var req api.SubmitBatchRequest
		if err := decodeJSON(c.Request().Body, &req); err != nil {
			return err
		}
		if resp, err = s.Service.SubmitBatch(ctx, caller, req); err != nil {
			return err
		}
		return accepted(c, resp.Replayed, resp)
	}
	up, err := parseUpload(c)
	if err != nil {
		return err
	}
	defer up.Close()
	if err := up.once(submitFields); err != nil {
		return err
	}
	req, err := submitForm(up)
	if err != nil {
		return err
	}
	f, name, err := up.file("file")
	if err != nil {
		return err
	}
	defer f.Close()
	if resp, err = s.Service.SubmitLibrary(ctx, caller, req, f, name); err != nil {
		return err
	}
	return accepted(c, resp.Replayed, resp)
}

// submitForm reads a library submission's fields: the JSON part request,
// then any single fields, which override it.
func submitForm(up *upload) (api.SubmitBatchRequest, error) {
	var req api.SubmitBatchRequest
	raw, ok := up.value("request")
	if !ok {
		if f, _, err := up.file("request"); err == nil {
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return req, err
			}
			raw, ok = string(b), true
		}
	}
	if ok {
		if err := decodeJSONValue("request", raw, &req); err != nil {
			return req, err
		}
		if len(req.Ligands) > 0 {
			return req, jobs.FieldError("ligands", "give the ligands in the file or inline, not both")
		}
	}
	for name, dst := range map[string]*string{
		"job_name": &req.JobName, "model_name": &req.ModelName, "protein_sequence": &req.ProteinSequence,
		"protein_name": &req.ProteinName, "target": &req.Target,
	} {
		if v, ok := up.value(name); ok {
			*dst = v
		}
	}
	if v, ok := up.value("parameters"); ok && v != "" {
		var params json.RawMessage
		if err := decodeJSONValue("parameters", v, &params); err != nil {
			return req, err
		}
		req.Parameters = params
	}
	if v, ok := up.value("drop_invalid"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return req, jobs.FieldError("drop_invalid", "must be true or false, not %q", v)
		}
		req.DropInvalid = b
	}
	if text, name, ok, err := up.optionalText("receptor", hub.MaxReceptorBytes); err != nil {
		return req, err
	} else if ok {
		req.Receptor = &api.ReceptorUpload{Name: name, Content: text}
		if f, ok := up.value("receptor_format"); ok {
			req.Receptor.Format = f
		}
	}
	url, hasURL := up.value("webhook_url")
	secret, hasSecret := up.value("webhook_secret")
	if hasURL || hasSecret {
		req.Webhook = &api.Webhook{URL: url, Secret: secret}
	}
	return req, nil
}

// validateLigands checks ligands given as JSON or as an uploaded library.
func (s *server) validateLigands(c echo.Context) error {
	ctx := c.Request().Context()
	kind, err := kindOf(c.Request(), true)
	if err != nil {
		return err
	}
	var resp *api.ValidateLigandsResponse
	if kind == bodyJSON {
		var req api.ValidateLigandsRequest
		if err := decodeJSON(c.Request().Body, &req); err != nil {
			return err
		}
		if resp, err = s.Service.ValidateLigands(ctx, userID(c), req); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, resp)
	}
	up, err := parseUpload(c)
	if err != nil {
		return err
	}
	defer up.Close()
	if err := up.once(validateFields); err != nil {
		return err
	}
	f, name, err := up.file("file")
	if err != nil {
		return err
	}
	defer f.Close()
	model, _ := up.value("model_name")
	if resp, err = s.Service.ValidateLibrary(ctx, userID(c), f, name, model); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// predict takes one prediction.
func (s *server) predict(c echo.Context) error {
	caller, err := s.submitCaller(c)
	if err != nil {
		return err
	}
	var req api.PredictRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	resp, err := s.Service.Predict(c.Request().Context(), caller, req)
	if err != nil {
		return err
	}
	return accepted(c, resp.Replayed, resp)
}
