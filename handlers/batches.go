package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"omtx/api"
)

func (s *server) listBatches(c echo.Context) error {
	var q api.ListQuery
	if err := bindQuery(c, &q); err != nil {
		return err
	}
	list, err := s.Service.BatchList(c.Request().Context(), userID(c), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *server) getBatch(c echo.Context) error {
	b, err := s.Service.BatchGet(c.Request().Context(), userID(c), c.Param("batch_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

func (s *server) batchResults(c echo.Context) error {
	var q api.ResultsQuery
	if err := bindQuery(c, &q); err != nil {
		return err
	}
	page, err := s.Service.Results(c.Request().Context(), userID(c), c.Param("batch_id"), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (s *server) batchAnalytics(c echo.Context) error {
	a, err := s.Service.Analytics(c.Request().Context(), userID(c), c.Param("batch_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *server) exportCSV(c echo.Context) error {
	return s.export(c, "csv")
}

func (s *server) exportBatch(c echo.Context) error {
	return s.export(c, c.Param("format"))
}

func (s *server) export(c echo.Context, format string) error {
	d, err := s.Service.Export(c.Request().Context(), userID(c), c.Param("batch_id"), format)
	if err != nil {
		return err
	}
	return download(c, d)
}

// deleteBatch answers 204 with no body.
func (s *server) deleteBatch(c echo.Context) error {
	if err := s.Service.BatchDelete(c.Request().Context(), userID(c), c.Param("batch_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deleteJob answers 204 with no body.
func (s *server) deleteJob(c echo.Context) error {
	if err := s.Service.JobDelete(c.Request().Context(), userID(c), c.Param("job_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *server) cancelJob(c echo.Context) error {
	j, err := s.Service.JobCancel(c.Request().Context(), userID(c), c.Param("job_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

func (s *server) cancelBatch(c echo.Context) error {
	return s.control(c, "cancel")
}

func (s *server) controlBatch(c echo.Context) error {
	return s.control(c, c.Param("action"))
}

func (s *server) control(c echo.Context, action string) error {
	resp, err := s.Service.BatchControl(c.Request().Context(), userID(c), c.Param("batch_id"), action)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}
